"""/api/v1/schedules/bulk, /export and /import: acting on many schedules at once.

Static paths, so they are matched before the `/api/v1/schedules/<schedule_id>` routes.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from pydantic import ValidationError
from quart import Blueprint, Response, current_app, request
from quart_schema import document_request, document_response, validate_querystring, validate_request

from ..errors import Invalid
from .body import BodyRejected
from .context import actor, runtime, scope
from .schemas import (
    BulkOut,
    BulkRequest,
    ErrorOut,
    ExportDocument,
    ExportQuery,
    ImportDocument,
    ImportOut,
    ImportQuery,
)

bp = Blueprint("transfer", __name__, url_prefix="/api/v1/schedules")


@bp.post("/bulk")
@validate_request(BulkRequest)
@document_response(BulkOut)
@document_response(ErrorOut, 400)
async def bulk(data: BulkRequest) -> dict[str, Any]:
    """Pause, resume or delete many schedules: those of `schedule_ids`, or those matching `filter`.
    Each change is audited; one that fails is listed in `errors` and the rest go on."""
    filters = data.filter.model_dump(exclude_none=True) if data.filter is not None else None
    result = await runtime().bulk.apply(data.action, schedule_ids=data.schedule_ids, filters=filters,
                                        reason=data.reason, actor=actor(), scope=scope())
    return {"matched": result.matched, "changed": result.changed, "errors": result.errors}


@bp.get("/export")
@validate_querystring(ExportQuery)
@document_response(ExportDocument)
@document_response(ErrorOut, 400)
async def export(query_args: ExportQuery) -> Response:
    """Every schedule matching the list filters (not a page; at most 10,000, else 400), with the
    workflows they use: a document POST /api/v1/schedules/import takes back."""
    document = await runtime().transfer.export(scope=scope(), **query_args.model_dump())
    body = await asyncio.to_thread(json.dumps, document, separators=(",", ":"), ensure_ascii=False)
    return Response(body, mimetype="application/json")


def _document(provider: Any, raw: str | bytes) -> dict[str, Any]:
    """The body as an import document (runs off the event loop: it may be megabytes)."""
    try:
        data = provider.loads(raw)
    except BodyRejected as exc:
        raise Invalid({exc.field: exc.problem}) from None
    except ValueError:
        raise Invalid({"body": "not valid JSON: send an export document"}) from None
    try:
        ImportDocument.model_validate(data)
    except ValidationError as exc:
        details: dict[str, str] = {}
        for item in exc.errors():
            message = "unknown field" if item["type"] == "extra_forbidden" else str(item["msg"])
            details.setdefault(_place(item["loc"]), message)
        raise Invalid(details, "; ".join(f"{k}: {v}" for k, v in details.items())) from None
    document: dict[str, Any] = data
    return document


def _place(loc: tuple[Any, ...]) -> str:
    """A pydantic location as the import names places: ``schedules[3].name``."""
    where = ""
    for part in loc:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    return where or "body"


@bp.post("/import")
@validate_querystring(ImportQuery)
@document_request(ImportDocument)
@document_response(ImportOut)
@document_response(ErrorOut, 400)
@document_response(ErrorOut, 403)
async def import_schedules(query_args: ImportQuery) -> dict[str, Any]:
    """Create (or with `mode=upsert`, update by name) the document's schedules and workflows, all
    or nothing: any problem answers 400 naming each one by its place, and nothing changes.
    `dry_run=true` answers what would be done."""
    raw = await request.get_data()
    document = await asyncio.to_thread(_document, current_app.json, raw)
    result = await runtime().transfer.import_document(document, mode=query_args.mode, dry_run=query_args.dry_run,
                                                      actor=actor(), scope=scope())
    return result.as_dict()
