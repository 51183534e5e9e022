"""Bulk actions: pause, resume or delete many schedules of the caller's community at once.

Each schedule goes through ScheduleService's own pause, resume or remove, so each change is
checked, audited and mirrored into the cache exactly as a single call would be; one that fails
(resuming a completed schedule, a schedule deleted meanwhile) is reported and the others go on.
Up to :data:`WIDTH` changes are in flight at once: the database's writer thread then commits
them in shared transactions (one savepoint each), which is what makes 10,000 pauses take
seconds instead of minutes on SQLite, while other writers (the scheduler's claims) still get a
turn between those transactions.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..db.schedule_store import ScheduleFilter, Scope
from ..db.transfer_store import TransferStore
from ..errors import DomainError, Invalid, NotFound
from ..logs import audit
from ..scheduling.types import ScheduleStatus, ScheduleType
from ..scheduling.validation import ValidationError, validate_pause
from .schedule_service import ScheduleService

log = logging.getLogger(__name__)

MAX_BULK = 10_000  # schedules one call may act on
WIDTH = 256  # changes in flight at once (the writer's group-commit size)
ACTIONS = ("pause", "resume", "delete")
FILTER_FIELDS = ("tag", "status", "schedule_type", "workflow_id", "q")

# What a schedule must not already be for the action to change it: pausing a paused schedule
# (or resuming an active one) matches it but changes nothing.
_ALREADY = {"pause": ScheduleStatus.PAUSED.value, "resume": ScheduleStatus.ACTIVE.value}


@dataclass(frozen=True, slots=True)
class BulkResult:
    matched: int
    changed: int
    errors: list[dict[str, str]] = field(default_factory=list)  # [{"schedule_id", "error"}], in input order


class BulkService:
    def __init__(self, schedules: ScheduleService) -> None:
        self.schedules = schedules
        self.store = TransferStore(schedules.database, schedules.store)

    async def apply(
        self,
        action: str,
        *,
        schedule_ids: Sequence[str] | None = None,
        filters: Mapping[str, Any] | None = None,
        reason: str | None = None,
        actor: str,
        scope: Scope,
    ) -> BulkResult:
        """Apply `action` to the schedules named by `schedule_ids`, or to those matching `filters`
        (exactly one of the two). With a community `scope`, schedules of other communities are
        never matched: named by id, they are reported as not found."""
        request = self._checked(action, schedule_ids, filters, reason)
        errors: dict[str, str] = {}
        if schedule_ids is not None:
            wanted: list[str] = []
            for given in schedule_ids:
                normal = _uuid(given)
                if normal is None:
                    errors.setdefault(given, "not found")
                elif normal not in wanted:
                    wanted.append(normal)
            found = await self.store.states(wanted, scope)
            for sid in wanted:
                if sid not in found:
                    errors[sid] = "not found"
            targets = [(sid, found[sid]) for sid in wanted if sid in found]
        else:
            assert filters is not None
            f = ScheduleFilter(scope, filters.get("workflow_id"), None, filters.get("status"),
                               filters.get("schedule_type"), filters.get("tag"), filters.get("q"))
            total, targets = await self.store.matching_states(f, MAX_BULK + 1)
            if total > MAX_BULK:
                raise Invalid({"filter": f"matches {total} schedules; at most {MAX_BULK} per call: narrow it"})

        change = self._change(action, request, actor, scope)
        todo = [sid for sid, status in targets if _ALREADY.get(action) != status]
        failures = await _each(todo, change)
        while action == "delete" and failures:
            # A chain's upstream is refused while the chain lives, which may be in this very call
            # (deleted alongside, concurrently): try the refused again while each round helps.
            retry = [sid for sid, why in failures.items() if why != "not found"]
            again = await _each(retry, change) if retry else {}
            progress = len(again) < len(retry)
            failures = {sid: why for sid, why in failures.items() if why == "not found"} | again
            if not progress:
                break
        errors |= failures
        changed = len(todo) - len(failures)
        order = {sid: i for i, sid in enumerate(_uuid(s) or s for s in (schedule_ids or []))}
        listed = sorted(errors.items(), key=lambda item: order.get(item[0], len(order)))
        audit(log, f"schedule.bulk_{action}", f"bulk {action}: {len(targets)} matched, {changed} changed, "
              f"{len(errors)} errors", actor=actor, community_id=scope)
        return BulkResult(len(targets), changed, [{"schedule_id": sid, "error": why} for sid, why in listed])

    def _checked(self, action: str, schedule_ids: Sequence[str] | None, filters: Mapping[str, Any] | None,
                 reason: str | None) -> dict[str, Any] | None:
        """The request's shape (400 naming each wrong part); returns the pause request, if any."""
        errors: dict[str, str] = {}
        if action not in ACTIONS:
            errors["action"] = f"must be one of {', '.join(ACTIONS)}"
        if (schedule_ids is None) == (filters is None):
            errors["body"] = "give exactly one of schedule_ids and filter"
        if schedule_ids is not None:
            if isinstance(schedule_ids, (str, bytes)) or not all(isinstance(s, str) for s in schedule_ids):
                errors["schedule_ids"] = "expected a list of schedule ids"
            elif len(schedule_ids) > MAX_BULK:
                errors["schedule_ids"] = f"at most {MAX_BULK} per call, got {len(schedule_ids)}"
            elif not schedule_ids:
                errors["schedule_ids"] = "name at least one schedule"
        if filters is not None:
            errors |= _filter_errors(filters)
        pause: dict[str, Any] | None = None
        if reason is not None:
            if action != "pause":
                errors["reason"] = "only for the pause action"
            else:
                try:
                    validate_pause({"reason": reason}, zone="UTC", now=self.schedules.clock.now())
                except ValidationError as exc:
                    errors |= exc.errors
                pause = {"reason": reason}
        if errors:
            raise Invalid(errors)
        return pause

    def _change(self, action: str, pause: dict[str, Any] | None, actor: str,
                scope: Scope) -> Callable[[str], Awaitable[Any]]:
        service = self.schedules
        if action == "pause":
            return lambda sid: service.pause_schedule(sid, actor=actor, scope=scope, request=pause)
        if action == "resume":
            return lambda sid: service.resume_schedule(sid, actor=actor, scope=scope)
        return lambda sid: service.remove_schedule(sid, actor=actor, scope=scope)


async def _each(schedule_ids: list[str], change: Callable[[str], Awaitable[Any]]) -> dict[str, str]:
    """Run `change` on each id with up to WIDTH in flight; schedule_id -> why, for those that failed
    with a domain error (anything else is a fault: it stops the rest and propagates)."""
    failures: dict[str, str] = {}
    pending = iter(schedule_ids)

    async def worker() -> None:
        for sid in pending:
            try:
                await change(sid)
            except DomainError as exc:
                failures[sid] = "not found" if isinstance(exc, NotFound) else exc.message

    async with asyncio.TaskGroup() as group:
        for _ in range(min(WIDTH, len(schedule_ids))):
            group.create_task(worker())
    return failures


def _filter_errors(filters: Mapping[str, Any]) -> dict[str, str]:
    if not isinstance(filters, Mapping):
        return {"filter": "expected an object"}
    errors = {f"filter.{name}": "unknown field" for name in filters if name not in FILTER_FIELDS}
    for name in FILTER_FIELDS:
        value = filters.get(name)
        if value is not None and not isinstance(value, str):
            errors[f"filter.{name}"] = "expected a string"
    statuses = [s.value for s in ScheduleStatus]
    if isinstance(filters.get("status"), str) and filters["status"] not in statuses:
        errors["filter.status"] = f"must be one of {', '.join(statuses)}"
    types = [t.value for t in ScheduleType]
    if isinstance(filters.get("schedule_type"), str) and filters["schedule_type"] not in types:
        errors["filter.schedule_type"] = f"must be one of {', '.join(types)}"
    return errors


def _uuid(value: str) -> str | None:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None
