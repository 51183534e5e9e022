"""API keys on requests: header X-API-Key (X-Service-Key too, for the chat router). The keys
are resolved by `services.access.Authenticator`."""

from __future__ import annotations

from werkzeug.datastructures import Headers


def presented_key(headers: Headers) -> str | None:
    """The key a request carries: X-API-Key, else X-Service-Key (what the chat router sends)."""
    return headers.get("X-API-Key") or headers.get("X-Service-Key")
