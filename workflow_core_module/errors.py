"""Domain exceptions shared by the service, the store and the API.

Each carries an HTTP-ish `status` and a stable `code`, so the API can answer without knowing
every class, and a `details` mapping for field-level messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_ECHOED_ID_CHARS = 100


class ScheduleServiceException(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = dict(details or {})


class InvalidInputException(ScheduleServiceException):
    """Invalid input; `details` maps each wrong field to what is wrong with it."""

    status = 400
    code = "invalid_input"

    def __init__(self, errors: Mapping[str, str], message: str | None = None) -> None:
        text = message or "; ".join(f"{k}: {v}" for k, v in errors.items())
        super().__init__(text, dict(errors))
        self.errors = dict(errors)


class InvalidScheduleException(InvalidInputException):
    """A schedule spec (or a query about schedules) is invalid."""


class InvalidWorkflowException(InvalidInputException):
    """A workflow definition is invalid."""


class ScheduleNotFoundException(ScheduleServiceException):
    status = 404
    code = "not_found"

    def __init__(self, what: str, identifier: str) -> None:
        if len(identifier) > MAX_ECHOED_ID_CHARS:  # no id is that long: do not echo what was sent
            super().__init__(f"{what} not found (the id given is {len(identifier)} characters long)", {})
        else:
            super().__init__(f"{what} {identifier!r} not found", {"id": identifier})


class ScheduleConflictException(ScheduleServiceException):
    status = 409
    code = "conflict"


class ForbiddenException(ScheduleServiceException):
    status = 403
    code = "forbidden"


class LimitExceededException(ScheduleServiceException):
    """A quota or rate limit: the request is valid but refused."""

    status = 409
    code = "limit_exceeded"


class UnavailableException(ScheduleServiceException):
    """The service cannot do this right now (starting, shutting down, database away)."""

    status = 503
    code = "unavailable"
