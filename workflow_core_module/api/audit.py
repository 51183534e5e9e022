"""/api/v1/audit: the audit log, newest first, within the caller's community."""

from __future__ import annotations

from typing import Any

from quart import Blueprint
from quart_schema import document_response, validate_querystring

from .context import runtime, scope
from .schemas import AuditPage, AuditQuery, ErrorOut
from .serialize import audit_json, page_json

bp = Blueprint("audit", __name__, url_prefix="/api/v1/audit")


@bp.get("")
@validate_querystring(AuditQuery)
@document_response(AuditPage)
@document_response(ErrorOut, 400)
async def list_audit(query_args: AuditQuery) -> dict[str, Any]:
    """Who changed what, newest first.

    A community key sees only its community's rows; a global key sees every row. `since` is
    inclusive, `until` exclusive."""
    page = await runtime().audit.list_entries(query_args.filters(), scope=scope(), limit=query_args.limit,
                                              offset=query_args.offset)
    return page_json(page, audit_json)
