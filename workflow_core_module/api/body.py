"""Request bodies: JSON that our code and the database can hold, or a 400 naming the field.

Python's json module accepts what the rest of the service cannot: a lone surrogate such as
``"\\ud800"`` (valid JSON, but not encodable as UTF-8, so it fails at the database or in the
answer), a NUL character (which PostgreSQL refuses in text and JSONB), and nesting deep enough
to exhaust the recursion limit. All are refused here, before any view sees the body.
"""

from __future__ import annotations

import json
import re
from typing import Any

from quart import Quart, Request

from ..errors import Invalid

MAX_JSON_DEPTH = 32
IMPORT_MAX_BYTES = 16 * 1024 * 1024
# Routes that take a larger body than the app's MAX_CONTENT_LENGTH: (method, path) -> bytes. An
# import document holds up to 10,000 schedules (an export of that many is about 7 MB).
LARGER_BODIES = {("POST", "/api/v1/schedules/import"): IMPORT_MAX_BYTES}


class BodyRejected(ValueError):
    """The body parsed, but holds something we refuse; `field` says where."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return key if parent == "body" else f"{parent}.{key}"


def _check_text(text: str, where: str) -> None:
    if "\x00" in text:  # PostgreSQL holds no NUL in text or JSONB: it would fail at the database
        raise BodyRejected(where, "contains a NUL character")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise BodyRejected(where, "contains a lone surrogate (not valid Unicode text)") from None


def inspect(value: Any) -> None:
    """Raise :class:`BodyRejected` for a string that is not valid Unicode or nesting beyond the limit."""
    stack: list[tuple[Any, str, int]] = [(value, "body", 0)]
    while stack:
        node, where, depth = stack.pop()
        if isinstance(node, str):
            _check_text(node, where)
        elif isinstance(node, (dict, list)):
            if depth >= MAX_JSON_DEPTH:
                raise BodyRejected(where, f"nested deeper than {MAX_JSON_DEPTH} levels")
            if isinstance(node, dict):
                for key, item in node.items():
                    _check_text(key, where)
                    stack.append((item, _path(where, key), depth + 1))
            else:
                stack.extend((item, _path(where, i), depth + 1) for i, item in enumerate(node))


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},:]')


def _deep_path(text: str | bytes) -> str:
    """Where a body too deep for the parser first goes past the limit (only for such bodies)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    path: list[str | int] = []  # one entry per open container: its current key or index
    pending: str | None = None
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in "[{":
            if len(path) >= MAX_JSON_DEPTH:
                break
            path.append(0 if token == "[" else "")
        elif token in "]}":
            if path:
                path.pop()
        elif token == ",":
            if path and isinstance(path[-1], int):
                path[-1] += 1
        elif token == ":":
            if path and pending is not None:
                path[-1] = pending
        else:
            try:
                pending = json.loads(token)
            except ValueError:
                pending = None
    where = "body"
    for key in path:
        where = _path(where, key)
    return where


class _GuardedLoads:
    """Mixed in front of the app's JSON provider (quart-schema installs its own for answers)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            value = super().loads(s, **kwargs)  # type: ignore[misc]
        except RecursionError:
            raise BodyRejected(_deep_path(s), f"nested deeper than {MAX_JSON_DEPTH} levels") from None
        inspect(value)
        return value


def guard_json(app: Quart) -> None:
    """Make every JSON body this app parses go through :func:`inspect`, with 400 answers."""
    provider = type("GuardedJSONProvider", (_GuardedLoads, type(app.json)), {})
    app.json = provider(app)
    app.request_class = GuardedRequest


class GuardedRequest(Request):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit = LARGER_BODIES.get((self.method, self.path))
        if limit is not None:  # before any of the body arrives: the limit is checked as it does
            self.max_content_length = limit
            self.body = self.body_class(self.content_length, limit)

    def on_json_loading_failed(self, error: Exception) -> Any:
        if isinstance(error, BodyRejected):
            raise Invalid({error.field: error.problem})
        return super().on_json_loading_failed(error)
