"""Domain errors, raised by the store, the engine and the services; they say what went wrong,
never how a protocol answers it. `api/errors.py` maps each class to an HTTP status and code
(the chat and the CLI word them their own way).

Every error has a `message` and `details` (field -> message for invalid input).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_ECHOED_ID_CHARS = 100


class DomainError(Exception):
    """Something the service could not do (raised as such: an internal error)."""

    def __init__(self, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = dict(details or {})


class Invalid(DomainError):
    """Invalid input; `errors` (also `details`) maps each wrong field to what is wrong with it."""

    def __init__(self, errors: Mapping[str, str], message: str | None = None) -> None:
        text = message or "; ".join(f"{k}: {v}" for k, v in errors.items())
        super().__init__(text, dict(errors))
        self.errors = dict(errors)


class NotFound(DomainError):
    """No `kind` (schedule, workflow, execution, API key, ...) with that id is visible here."""

    def __init__(self, kind: str, identifier: str) -> None:
        self.kind = kind
        if len(identifier) > MAX_ECHOED_ID_CHARS:  # no id is that long: do not echo what was sent
            super().__init__(f"{kind} not found (the id given is {len(identifier)} characters long)", {})
        else:
            super().__init__(f"{kind} {identifier!r} not found", {"id": identifier})


class Conflict(DomainError):
    """The request contradicts the current state (a name taken, a workflow in use)."""


class Forbidden(DomainError):
    """The caller may not act on this (outside its community)."""


class LimitExceeded(DomainError):
    """A quota or rate limit: the request is valid but refused."""


class Unavailable(DomainError):
    """The service cannot do this right now (starting, shutting down, database away)."""
