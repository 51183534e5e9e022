"""Reading the audit log: who changed what, newest first, within the caller's community."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..db.audit import AuditLog
from ..db.database import Database
from ..errors import Invalid
from ..scheduling.records import AuditRecord, Page
from ..scheduling.types import MAX_OFFSET, MAX_PAGE
from ..scheduling.validation import ValidationError, validate_audit_filter


class AuditService:
    def __init__(self, database: Database) -> None:
        self.log = AuditLog(database)

    async def list_entries(self, filters: Mapping[str, Any], *, scope: str | None = None, limit: int = 50,
                           offset: int = 0) -> Page[AuditRecord]:
        """A page of audit rows matching `filters` (see validate_audit_filter), newest first.
        With a community `scope`, only that community's rows: a global key's changes to shared
        workflows, API keys of other communities and every other community's rows stay hidden."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
            raise Invalid({"limit": f"must be between 1 and {MAX_PAGE}"})
        if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
            raise Invalid({"offset": f"must be between 0 and {MAX_OFFSET}"})
        try:
            wanted = validate_audit_filter({k: v for k, v in filters.items() if v is not None})
        except ValidationError as exc:
            raise Invalid(exc.errors) from None
        return await self.log.page(wanted, scope, limit, offset)
