"""What the scheduler loop does with one due row. Pure: the clock is an argument."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from .occurrences import latest_at_or_before, next_occurrence, occurrences_between
from .types import CatchupPolicy, OverlapPolicy, ScheduleStatus, ScheduleType, TimeRule, as_utc


@dataclass(frozen=True, slots=True)
class DueState:
    """The mutable part of a schedule that the decision reads."""

    next_execution_at: datetime
    execution_count: int
    max_executions: int | None
    grace_period_seconds: int
    catchup_policy: CatchupPolicy = CatchupPolicy.LATEST
    catchup_max: int = 10


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome for one due row, applied by one claim.

    `fire_for` is the occurrence to run now (None: nothing runs); `coalesced` counts the
    occurrences inside the grace window that this one fire stands for. `missed_for` is the
    occurrence recorded as one `missed` run when the row was already beyond its grace window;
    `also_missed` are occurrences inside it that catch-up (`all`) leaves out, beyond
    `catchup_max`, each recorded `missed` too. The row then moves to `next_execution_at` with
    `status` (active unless the schedule ended); catching up, that is the next occurrence still
    owed, at or before now, so the next pass fires it.
    """

    fire_for: datetime | None
    coalesced: int
    missed_for: datetime | None
    next_execution_at: datetime | None
    status: ScheduleStatus
    execution_count: int
    also_missed: tuple[datetime, ...] = ()

    @property
    def is_active(self) -> bool:
        return self.status is ScheduleStatus.ACTIVE


def decide(rule: TimeRule, state: DueState, now: datetime) -> Decision | None:
    """Decide a due row: fire (coalescing), missed, completed (exhausted) or expired.

    Returns None when the row is not due at `now`.
    """
    now = as_utc(now)
    due = as_utc(state.next_execution_at)
    if due > now:
        return None
    count = state.execution_count
    if state.max_executions is not None and count >= state.max_executions:
        return Decision(None, 0, None, None, ScheduleStatus.COMPLETED, count)

    horizon = now - timedelta(seconds=state.grace_period_seconds)
    if due >= horizon:
        first_in_grace: datetime | None = due
    else:
        # Occurrences are whole seconds: the first one >= horizon.
        ceil_horizon = datetime.fromtimestamp(math.ceil(horizon.timestamp()), horizon.tzinfo)
        first_in_grace = next_occurrence(rule, ceil_horizon - timedelta(seconds=1))

    fire_for: datetime | None = None
    owed: datetime | None = None
    also_missed: tuple[datetime, ...] = ()
    coalesced = 0
    if first_in_grace is not None and first_in_grace <= now:
        if state.catchup_policy is CatchupPolicy.ALL:
            fire_for, owed, also_missed = _catch_up(rule, state, first_in_grace, now)
            coalesced = 1
        else:
            fire_for, coalesced = latest_at_or_before(rule, first_in_grace, now)
        count += 1
    missed_for = due if due < horizon else None

    exhausted = state.max_executions is not None and count >= state.max_executions
    nxt = None if exhausted else owed or next_occurrence(rule, now)
    status = status_for_next(rule, nxt, count, state.max_executions)
    return Decision(fire_for, coalesced, missed_for, nxt, status, count, also_missed)


_CATCHUP_WALK = 100_000  # the most occurrences one catch-up looks at (a week of grace at 10 s)


def _catch_up(rule: TimeRule, state: DueState, first: datetime,
              now: datetime) -> tuple[datetime, datetime | None, tuple[datetime, ...]]:
    """catchup_policy `all`: the oldest occurrence owed (to fire now), the next one owed (None:
    caught up), and the older ones beyond `catchup_max` (recorded missed)."""
    owed = occurrences_between(rule, first, now, _CATCHUP_WALK)
    cut = max(0, len(owed) - state.catchup_max)
    kept = owed[cut:]
    return kept[0], kept[1] if len(kept) > 1 else None, tuple(owed[:cut])


def status_for_next(rule: TimeRule, nxt: datetime | None, execution_count: int,
                    max_executions: int | None) -> ScheduleStatus:
    """The status of a schedule (not paused) whose next occurrence is `nxt`."""
    if max_executions is not None and execution_count >= max_executions:
        return ScheduleStatus.COMPLETED
    if nxt is not None or rule.schedule_type is ScheduleType.AFTER:  # an after schedule has no time of its own
        return ScheduleStatus.ACTIVE
    if rule.schedule_type is ScheduleType.ONE_TIME and execution_count > 0:
        return ScheduleStatus.COMPLETED
    if rule.schedule_type is ScheduleType.RRULE and (execution_count > 0 or rule.end_date is None):
        return ScheduleStatus.COMPLETED  # its COUNT or UNTIL ended it, like a one-time schedule that fired
    return ScheduleStatus.EXPIRED


@dataclass(frozen=True, slots=True)
class Unfinished:
    """A run of the same schedule that has not ended; `started` is False while it is queued."""

    run_id: str
    started: bool


@dataclass(frozen=True, slots=True)
class Plan:
    """A decision plus what the overlap policy makes of its fire.

    `fire_status` is "queued" (runs), "skipped" (recorded, not run) or None (no fire).
    `wait_for`: runs to let finish first (buffer_one). `cancel`: runs to cancel (cancel_previous).
    """

    decision: Decision
    fire_status: str | None
    wait_for: tuple[str, ...] = ()
    cancel: tuple[str, ...] = ()
    reason: str | None = None


def plan(rule: TimeRule, state: DueState, now: datetime, policy: OverlapPolicy,
         unfinished: tuple[Unfinished, ...] = ()) -> Plan | None:
    """decide(), then apply the overlap policy against the schedule's unfinished runs."""
    decision = decide(rule, state, now)
    if decision is None:
        return None
    return with_overlap(rule, state, decision, now, policy, unfinished)


def with_overlap(rule: TimeRule, state: DueState, decision: Decision, now: datetime, policy: OverlapPolicy,
                 unfinished: tuple[Unfinished, ...]) -> Plan:
    """What the overlap policy makes of a decision's fire, given the schedule's unfinished runs."""
    if decision.fire_for is None:
        return Plan(decision, None)
    if not unfinished or policy is OverlapPolicy.ALLOW:
        return Plan(decision, "queued")
    if state.catchup_policy is CatchupPolicy.ALL and policy is not OverlapPolicy.CANCEL_PREVIOUS \
            and len(unfinished) < state.catchup_max:
        # Catching up, nothing is skipped for overlap: each fire waits for the runs before it.
        return Plan(decision, "queued", wait_for=tuple(u.run_id for u in unfinished))
    if policy is OverlapPolicy.CANCEL_PREVIOUS:
        return Plan(decision, "queued", cancel=tuple(u.run_id for u in unfinished),
                    reason="cancelled by the next occurrence (overlap_policy cancel_previous)")
    if policy is OverlapPolicy.BUFFER_ONE and all(u.started for u in unfinished):
        return Plan(decision, "queued", wait_for=tuple(u.run_id for u in unfinished))
    running = ", ".join(u.run_id for u in unfinished)
    why = "a run is already waiting (overlap_policy buffer_one)" if policy is OverlapPolicy.BUFFER_ONE \
        else "the previous run is still going (overlap_policy skip)"
    return Plan(_without_fire(rule, decision, now, state.max_executions), "skipped",
                reason=f"skipped: {why}; unfinished: {running}")


def plan_chained(rule: TimeRule, execution_count: int, max_executions: int | None, upstream_ended: datetime,
                 now: datetime, policy: OverlapPolicy, unfinished: tuple[Unfinished, ...] = ()) -> Plan | None:
    """An after schedule whose upstream's run ended (at `upstream_ended`, recorded at `now`) with an
    outcome it waits for: like a due occurrence of a time schedule at that time. None before its
    start_date (nothing happens); past its end_date it expires; max_executions reached, it is
    completed; otherwise it fires (counted, completed by its last allowed fire), and the overlap
    policy decides as for any fire."""
    now = as_utc(now)
    if rule.start_date is not None and now < rule.start_date:
        return None
    if max_executions is not None and execution_count >= max_executions:
        return Plan(Decision(None, 0, None, None, ScheduleStatus.COMPLETED, execution_count), None)
    if rule.end_date is not None and now > rule.end_date:
        return Plan(Decision(None, 0, None, None, ScheduleStatus.EXPIRED, execution_count), None)
    count = execution_count + 1
    decision = Decision(as_utc(upstream_ended), 1, None, None, status_for_next(rule, None, count, max_executions),
                        count)
    state = DueState(decision.fire_for or now, execution_count, max_executions, 0)
    return with_overlap(rule, state, decision, now, policy, unfinished)


def _without_fire(rule: TimeRule, decision: Decision, now: datetime, max_executions: int | None) -> Decision:
    """The same decision when its fire is skipped: the fire does not count as an execution."""
    count = decision.execution_count - 1
    nxt = decision.next_execution_at
    if nxt is None and decision.status is ScheduleStatus.COMPLETED:
        nxt = next_occurrence(rule, now)  # completion was owed to this fire
    status = status_for_next(rule, nxt, count, max_executions)
    if status is not ScheduleStatus.ACTIVE:
        nxt = None
    return Decision(decision.fire_for, decision.coalesced, decision.missed_for, nxt, status, count,
                    decision.also_missed)


def jitter_delay_seconds(schedule_id: str, scheduled_for: datetime, jitter_seconds: int) -> float:
    """A delay in [0, jitter_seconds) for one occurrence.

    Derived from a hash of the occurrence, so every replica computes the same delay and the
    spread over many schedules is uniform.
    """
    if jitter_seconds <= 0:
        return 0.0
    key = f"{schedule_id}:{int(as_utc(scheduled_for).timestamp())}".encode()
    fraction = int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2**64
    return fraction * jitter_seconds
