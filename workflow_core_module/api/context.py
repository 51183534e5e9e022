"""Request context helpers: the runtime and the calling principal."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from quart import current_app, g, request
from quart_schema import RequestSchemaValidationError

from ..db.key_store import Principal

if TYPE_CHECKING:
    from ..app import Runtime


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["runtime"]
    return rt


def principal() -> Principal:
    p: Principal = g.principal
    return p


def scope() -> str | None:
    return principal().community_id


def actor() -> str:
    return principal().name


def payload(model: Any) -> dict[str, Any]:
    """The fields a request set (exclude_unset keeps PATCH semantics)."""
    data: dict[str, Any] = model.model_dump(exclude_unset=True)
    return data


async def optional_body(model: type[Any]) -> Any:
    """Validate a body that may be left out (no body = an empty object)."""
    raw = await request.get_data()
    data = await request.get_json() if raw.strip() else {}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestSchemaValidationError(exc) from None
