"""The due-row decision: fire, coalesce, missed, expired, exhausted. Pure, clock passed in."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, replace
from datetime import datetime, timedelta, timezone

import pytest

from workflow_core_module.scheduling import (
    CatchupPolicy,
    Decision,
    DueState,
    OverlapPolicy,
    Plan,
    ScheduleStatus,
    ScheduleType,
    TimeRule,
    Unfinished,
    decide,
    jitter_delay_seconds,
    plan,
    status_for_next,
)

UTC = timezone.utc
T0 = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)


def every_minute(**kw: object) -> TimeRule:
    return TimeRule(ScheduleType.INTERVAL, interval_seconds=60, anchor=T0, **kw)  # type: ignore[arg-type]


def state(due: datetime = T0, count: int = 0, max_executions: int | None = None, grace: int = 900) -> DueState:
    return DueState(due, count, max_executions, grace)


def test_not_due_yet() -> None:
    assert decide(every_minute(), state(), T0 - timedelta(seconds=1)) is None


def test_on_time_fires_and_advances() -> None:
    d = decide(every_minute(), state(), T0 + timedelta(milliseconds=300))
    assert d is not None
    assert (d.fire_for, d.coalesced, d.missed_for) == (T0, 1, None)
    assert d.next_execution_at == T0 + timedelta(minutes=1)
    assert d.status is ScheduleStatus.ACTIVE and d.execution_count == 1


def test_several_occurrences_inside_grace_fire_once() -> None:
    now = T0 + timedelta(minutes=4, seconds=30)  # 09:00..09:04 all due, all inside 15 min grace
    d = decide(every_minute(), state(), now)
    assert d is not None
    assert d.fire_for == T0 + timedelta(minutes=4)  # the latest due occurrence stands for all
    assert d.coalesced == 5
    assert d.missed_for is None
    assert d.next_execution_at == T0 + timedelta(minutes=5)
    assert d.execution_count == 1


def test_missed_beyond_grace_records_one_miss_and_moves_to_the_future() -> None:
    daily = TimeRule(ScheduleType.CRON, cron_expression="0 9 * * *")
    now = T0 + timedelta(minutes=20)  # grace is 15 minutes
    d = decide(daily, state(grace=900), now)
    assert d is not None
    assert d.fire_for is None
    assert d.missed_for == T0
    assert d.next_execution_at == T0 + timedelta(days=1)
    assert d.next_execution_at > now
    assert d.status is ScheduleStatus.ACTIVE and d.execution_count == 0


def test_after_a_long_outage_one_miss_and_one_fire_for_the_newest_inside_grace() -> None:
    now = T0 + timedelta(hours=3, seconds=10)
    d = decide(every_minute(), state(grace=300), now)
    assert d is not None
    assert d.missed_for == T0
    assert d.fire_for == T0 + timedelta(hours=3)
    assert d.coalesced == 5  # 11:56 .. 12:00 are inside 5 minutes of 12:00:10; 11:55 is not
    assert d.next_execution_at == T0 + timedelta(hours=3, minutes=1)


def test_zero_grace_misses_anything_late() -> None:
    d = decide(every_minute(), state(grace=0), T0 + timedelta(seconds=1))
    assert d is not None and d.missed_for == T0 and d.fire_for is None


def test_max_executions_reached_completes_in_the_same_claim() -> None:
    d = decide(every_minute(), state(count=1, max_executions=2), T0)
    assert d is not None
    assert d.fire_for == T0 and d.execution_count == 2
    assert d.status is ScheduleStatus.COMPLETED and d.next_execution_at is None


def test_exhausted_row_completes_without_firing() -> None:
    d = decide(every_minute(), state(count=2, max_executions=2), T0)
    assert d is not None
    assert d.fire_for is None and d.status is ScheduleStatus.COMPLETED
    assert (d.coalesced, d.missed_for, d.next_execution_at, d.execution_count) == (0, None, None, 2)


def test_a_limit_lowered_below_the_count_completes_without_firing() -> None:
    d = decide(every_minute(), state(count=5, max_executions=3), T0)
    assert d is not None
    assert (d.fire_for, d.status, d.next_execution_at, d.execution_count) == (None, ScheduleStatus.COMPLETED, None, 5)


@pytest.mark.parametrize("limit", [1, 2, 300, 10_000])
def test_the_fire_that_reaches_the_limit_completes_the_schedule(limit: int) -> None:
    d = decide(every_minute(), state(count=limit - 1, max_executions=limit), T0)
    assert d is not None and d.fire_for == T0 and d.execution_count == limit
    assert (d.status, d.next_execution_at, d.is_active) == (ScheduleStatus.COMPLETED, None, False)


def test_on_time_after_earlier_fires_coalesces_nothing_already_fired() -> None:
    """Occurrences before the row's due time were fired by earlier passes: an on-time fire stands
    for its own occurrence only, however long the grace period."""
    due = T0 + timedelta(minutes=10)
    d = decide(every_minute(), state(due=due, count=10, grace=3600), due + timedelta(seconds=1))
    assert d is not None
    assert (d.fire_for, d.coalesced, d.missed_for, d.execution_count) == (due, 1, None, 11)


@pytest.mark.parametrize("value", [
    DueState(T0, 0, None, 60),
    Decision(T0, 1, None, T0, ScheduleStatus.ACTIVE, 1),
    Unfinished("run", True),
    Plan(Decision(T0, 1, None, T0, ScheduleStatus.ACTIVE, 1), "queued"),
])
def test_decisions_are_frozen_values(value: object) -> None:
    """A pass computes its decisions first and commits them after: nothing may change them between."""
    name = next(iter(value.__dataclass_fields__))  # type: ignore[attr-defined]
    with pytest.raises(FrozenInstanceError):
        setattr(value, name, None)


def test_one_time_completes_after_firing() -> None:
    rule = TimeRule(ScheduleType.ONE_TIME, scheduled_time=T0)
    d = decide(rule, state(), T0 + timedelta(seconds=2))
    assert d is not None
    assert d.fire_for == T0 and d.status is ScheduleStatus.COMPLETED and d.next_execution_at is None


def test_one_time_missed_is_expired() -> None:
    rule = TimeRule(ScheduleType.ONE_TIME, scheduled_time=T0)
    d = decide(rule, state(grace=60), T0 + timedelta(minutes=5))
    assert d is not None
    assert d.fire_for is None and d.missed_for == T0 and d.status is ScheduleStatus.EXPIRED


def test_last_occurrence_before_end_date_fires_then_expires() -> None:
    rule = every_minute(end_date=T0 + timedelta(seconds=30))
    d = decide(rule, state(), T0 + timedelta(seconds=45))  # now is past end_date, the occurrence was not
    assert d is not None
    assert d.fire_for == T0 and d.status is ScheduleStatus.EXPIRED and not d.is_active


def test_coalescing_stops_at_end_date() -> None:
    rule = every_minute(end_date=T0 + timedelta(minutes=2))
    d = decide(rule, state(), T0 + timedelta(minutes=10))
    assert d is not None
    assert d.fire_for == T0 + timedelta(minutes=2) and d.coalesced == 3
    assert d.status is ScheduleStatus.EXPIRED


@pytest.mark.parametrize("jitter", [0, 1, 30, 3600])
def test_jitter_is_deterministic_and_bounded(jitter: int) -> None:
    delays = [jitter_delay_seconds(f"s{i}", T0, jitter) for i in range(2000)]
    assert delays == [jitter_delay_seconds(f"s{i}", T0, jitter) for i in range(2000)]
    assert all(0 <= d < max(jitter, 1e-9) or (jitter == 0 and d == 0) for d in delays)
    if jitter:
        # spread over the range, not bunched: each tenth of it gets some
        buckets = {int(d / jitter * 10) for d in delays}
        assert buckets == set(range(10))


# ---- the grace boundary: due + grace is still on time, one second later is missed ----------------

DAILY = TimeRule(ScheduleType.CRON, cron_expression="0 9 * * *")


@pytest.mark.parametrize(("late_seconds", "fired", "missed"), [
    (0, True, False),
    (899, True, False),
    (900, True, False),  # exactly due + grace: on time, and not also missed
    (901, False, True),
    (86_399, False, True),
])
def test_grace_boundary(late_seconds: int, fired: bool, missed: bool) -> None:
    d = decide(DAILY, state(grace=900), T0 + timedelta(seconds=late_seconds))
    assert d is not None
    assert (d.fire_for == T0 if fired else d.fire_for is None), d
    assert (d.missed_for == T0 if missed else d.missed_for is None), d
    assert d.execution_count == (1 if fired else 0)
    assert d.next_execution_at == T0 + timedelta(days=1) and d.status is ScheduleStatus.ACTIVE


def test_grace_boundary_with_sub_second_now() -> None:
    """The clock has microseconds, occurrences do not: 0.5 s past the grace is missed."""
    on_time = decide(DAILY, state(grace=60), T0 + timedelta(seconds=60))
    late = decide(DAILY, state(grace=60), T0 + timedelta(seconds=60, milliseconds=500))
    assert on_time is not None and (on_time.fire_for, on_time.missed_for) == (T0, None)
    assert late is not None and (late.fire_for, late.missed_for) == (None, T0)


def test_an_occurrence_exactly_at_the_grace_horizon_still_fires_after_an_outage() -> None:
    """Interval every minute, grace 300 s, now = 12:00:00 after a 3 h outage: 11:55:00 is exactly
    at the horizon and is the first of the coalesced ones."""
    now = T0 + timedelta(hours=3)
    d = decide(every_minute(), state(grace=300), now)
    assert d is not None
    assert (d.missed_for, d.fire_for, d.coalesced) == (T0, now, 6)  # 11:55 .. 12:00


def test_a_late_occurrence_is_missed_even_if_the_next_one_is_not_due_yet() -> None:
    now = T0 + timedelta(seconds=30)
    d = decide(every_minute(), state(grace=10), now)
    assert d is not None
    assert (d.fire_for, d.missed_for, d.coalesced) == (None, T0, 0)
    assert d.next_execution_at == T0 + timedelta(minutes=1) and d.execution_count == 0


def test_max_executions_zero_completes_at_once_and_none_means_unlimited() -> None:
    d = decide(every_minute(), state(count=0, max_executions=0), T0)
    assert d is not None and d.fire_for is None and d.status is ScheduleStatus.COMPLETED
    unlimited = decide(every_minute(), state(count=10_000, max_executions=None), T0)
    assert unlimited is not None and unlimited.fire_for == T0 and unlimited.execution_count == 10_001
    assert unlimited.status is ScheduleStatus.ACTIVE and unlimited.is_active


def test_a_miss_that_exhausts_nothing_keeps_counting_from_the_row() -> None:
    d = decide(every_minute(), state(count=3, max_executions=5, grace=0), T0 + timedelta(seconds=5))
    assert d is not None and d.missed_for == T0 and d.fire_for is None
    assert d.execution_count == 3 and d.status is ScheduleStatus.ACTIVE


def test_the_window_start_is_respected_when_coalescing() -> None:
    rule = every_minute(start_date=T0)
    d = decide(rule, state(), T0 + timedelta(minutes=2, seconds=5))
    assert d is not None and (d.fire_for, d.coalesced) == (T0 + timedelta(minutes=2), 3)


# ---- status_for_next --------------------------------------------------------------------------------

ONE_TIME = TimeRule(ScheduleType.ONE_TIME, scheduled_time=T0)


@pytest.mark.parametrize(("rule", "nxt", "count", "max_executions", "status"), [
    (every_minute(), T0, 0, None, ScheduleStatus.ACTIVE),
    (every_minute(), T0, 2, 3, ScheduleStatus.ACTIVE),
    (every_minute(), T0, 3, 3, ScheduleStatus.COMPLETED),  # the limit wins over a next time
    (every_minute(), T0, 4, 3, ScheduleStatus.COMPLETED),
    (every_minute(), None, 1, None, ScheduleStatus.EXPIRED),  # the window ended
    (ONE_TIME, None, 1, None, ScheduleStatus.COMPLETED),  # it ran
    (ONE_TIME, None, 0, None, ScheduleStatus.EXPIRED),  # it never ran
    (ONE_TIME, T0, 0, None, ScheduleStatus.ACTIVE),
])
def test_status_for_next(rule: TimeRule, nxt: datetime | None, count: int, max_executions: int | None,
                         status: ScheduleStatus) -> None:
    assert status_for_next(rule, nxt, count, max_executions) is status


# ---- plan: the overlap policies ----------------------------------------------------------------------

RUNNING = Unfinished("run-a", started=True)
QUEUED = Unfinished("run-b", started=False)


def test_plan_is_none_when_not_due() -> None:
    assert plan(every_minute(), state(), T0 - timedelta(seconds=1), OverlapPolicy.SKIP, (RUNNING,)) is None


@pytest.mark.parametrize("policy", list(OverlapPolicy))
def test_without_unfinished_runs_every_policy_fires(policy: OverlapPolicy) -> None:
    p = plan(every_minute(), state(), T0, policy)
    assert p is not None and (p.fire_status, p.wait_for, p.cancel, p.reason) == ("queued", (), (), None)
    assert p.decision == decide(every_minute(), state(), T0)


@pytest.mark.parametrize("policy", list(OverlapPolicy))
def test_a_miss_plans_no_fire_whatever_the_policy(policy: OverlapPolicy) -> None:
    p = plan(DAILY, state(grace=60), T0 + timedelta(minutes=5), policy, (RUNNING,))
    assert p is not None and p.fire_status is None and p.decision.missed_for == T0
    assert (p.wait_for, p.cancel) == ((), ())


def test_allow_runs_beside_the_unfinished() -> None:
    p = plan(every_minute(), state(), T0, OverlapPolicy.ALLOW, (RUNNING, QUEUED))
    assert p is not None and (p.fire_status, p.wait_for, p.cancel) == ("queued", (), ())
    assert p.decision.execution_count == 1


def test_cancel_previous_cancels_every_unfinished_run() -> None:
    p = plan(every_minute(), state(), T0, OverlapPolicy.CANCEL_PREVIOUS, (RUNNING, QUEUED))
    assert p is not None and (p.fire_status, p.cancel, p.wait_for) == ("queued", ("run-a", "run-b"), ())
    assert p.reason == "cancelled by the next occurrence (overlap_policy cancel_previous)"


def test_buffer_one_waits_for_a_running_run() -> None:
    p = plan(every_minute(), state(), T0, OverlapPolicy.BUFFER_ONE, (RUNNING,))
    assert p is not None and (p.fire_status, p.wait_for, p.cancel, p.reason) == ("queued", ("run-a",), (), None)
    assert p.decision.execution_count == 1


def test_buffer_one_skips_when_one_is_already_waiting() -> None:
    p = plan(every_minute(), state(count=4), T0, OverlapPolicy.BUFFER_ONE, (RUNNING, QUEUED))
    assert p is not None and p.fire_status == "skipped" and (p.wait_for, p.cancel) == ((), ())
    assert p.reason == ("skipped: a run is already waiting (overlap_policy buffer_one); "
                        "unfinished: run-a, run-b")
    assert p.decision.execution_count == 4  # a skip is no execution
    assert p.decision.fire_for == T0 and p.decision.next_execution_at == T0 + timedelta(minutes=1)


def test_skip_skips_while_a_run_is_unfinished() -> None:
    p = plan(every_minute(), state(count=1), T0, OverlapPolicy.SKIP, (QUEUED,))
    assert p is not None and p.fire_status == "skipped"
    assert p.reason == "skipped: the previous run is still going (overlap_policy skip); unfinished: run-b"
    assert (p.decision.execution_count, p.decision.status) == (1, ScheduleStatus.ACTIVE)


def test_a_skipped_fire_that_would_have_completed_the_schedule_leaves_it_active() -> None:
    """max_executions 3, two done: the third fire would complete it; skipped, it does not count,
    so the schedule stays active with its next occurrence."""
    fired = decide(every_minute(), state(count=2, max_executions=3), T0)
    assert fired is not None and fired.status is ScheduleStatus.COMPLETED and fired.next_execution_at is None
    p = plan(every_minute(), state(count=2, max_executions=3), T0, OverlapPolicy.SKIP, (RUNNING,))
    assert p is not None and p.fire_status == "skipped"
    d = p.decision
    assert (d.execution_count, d.status, d.next_execution_at) == (2, ScheduleStatus.ACTIVE, T0 + timedelta(minutes=1))
    assert (d.fire_for, d.coalesced, d.missed_for) == (T0, 1, None)


def test_a_skipped_fire_of_a_one_time_schedule_expires_it() -> None:
    p = plan(ONE_TIME, state(), T0, OverlapPolicy.SKIP, (RUNNING,))
    assert p is not None and p.fire_status == "skipped"
    assert (p.decision.status, p.decision.next_execution_at, p.decision.execution_count) == (
        ScheduleStatus.EXPIRED, None, 0)


def test_a_skipped_last_fire_before_the_end_date_expires() -> None:
    rule = every_minute(end_date=T0 + timedelta(seconds=30))
    p = plan(rule, state(count=5), T0, OverlapPolicy.SKIP, (RUNNING,))
    assert p is not None and p.fire_status == "skipped"
    assert (p.decision.status, p.decision.next_execution_at, p.decision.execution_count) == (
        ScheduleStatus.EXPIRED, None, 5)


def test_a_skip_keeps_the_missed_occurrence() -> None:
    """A long outage: one miss and one (coalesced) fire; the fire is skipped, the miss stays."""
    now = T0 + timedelta(hours=1)
    p = plan(every_minute(), state(grace=120), now, OverlapPolicy.SKIP, (RUNNING,))
    assert p is not None and p.fire_status == "skipped"
    assert (p.decision.missed_for, p.decision.fire_for, p.decision.coalesced) == (T0, now, 3)


def test_jitter_is_zero_for_non_positive_jitter_and_depends_on_the_occurrence() -> None:
    assert jitter_delay_seconds("s", T0, 0) == 0.0 and jitter_delay_seconds("s", T0, -5) == 0.0
    delays = {jitter_delay_seconds("s", T0 + timedelta(minutes=i), 60) for i in range(50)}
    assert len(delays) == 50  # each occurrence its own delay
    assert jitter_delay_seconds("s", T0.replace(microsecond=999), 60) == jitter_delay_seconds("s", T0, 60)
    assert jitter_delay_seconds("a", T0, 60) != jitter_delay_seconds("b", T0, 60)


# What each overlap policy does with each set of unfinished runs: (fire status, cancel, wait_for).
PLAN_TABLE = [
    (OverlapPolicy.ALLOW, (), "queued", (), ()),
    (OverlapPolicy.ALLOW, (RUNNING,), "queued", (), ()),
    (OverlapPolicy.ALLOW, (QUEUED,), "queued", (), ()),
    (OverlapPolicy.ALLOW, (RUNNING, QUEUED), "queued", (), ()),
    (OverlapPolicy.SKIP, (), "queued", (), ()),
    (OverlapPolicy.SKIP, (RUNNING,), "skipped", (), ()),
    (OverlapPolicy.SKIP, (QUEUED,), "skipped", (), ()),
    (OverlapPolicy.SKIP, (RUNNING, QUEUED), "skipped", (), ()),
    (OverlapPolicy.CANCEL_PREVIOUS, (), "queued", (), ()),
    (OverlapPolicy.CANCEL_PREVIOUS, (RUNNING,), "queued", ("run-a",), ()),
    (OverlapPolicy.CANCEL_PREVIOUS, (QUEUED,), "queued", ("run-b",), ()),
    (OverlapPolicy.CANCEL_PREVIOUS, (RUNNING, QUEUED), "queued", ("run-a", "run-b"), ()),
    (OverlapPolicy.BUFFER_ONE, (), "queued", (), ()),
    (OverlapPolicy.BUFFER_ONE, (RUNNING,), "queued", (), ("run-a",)),
    (OverlapPolicy.BUFFER_ONE, (QUEUED,), "skipped", (), ()),  # one is already waiting
    (OverlapPolicy.BUFFER_ONE, (RUNNING, QUEUED), "skipped", (), ()),
]


@pytest.mark.parametrize(("policy", "unfinished", "fire", "cancel", "wait_for"), PLAN_TABLE)
def test_plan_table(policy: OverlapPolicy, unfinished: tuple[Unfinished, ...], fire: str, cancel: tuple[str, ...],
                    wait_for: tuple[str, ...]) -> None:
    p = plan(every_minute(), state(), T0, policy, unfinished)
    assert p is not None
    assert (p.fire_status, p.cancel, p.wait_for) == (fire, cancel, wait_for)
    assert p.decision.fire_for == T0
    # a skipped fire is no execution; a queued one counts
    assert p.decision.execution_count == (0 if fire == "skipped" else 1)
    assert (p.reason is not None) == (fire == "skipped" or bool(cancel))


# ---- catch-up (catchup_policy all) ------------------------------------------------------------

def catching_up(due: datetime = T0, count: int = 0, catchup_max: int = 10, grace: int = 900,
                max_executions: int | None = None) -> DueState:
    return DueState(due, count, max_executions, grace, CatchupPolicy.ALL, catchup_max)


def walk(rule: TimeRule, start: DueState, now: datetime) -> list[Decision]:
    """Decide the row pass after pass at `now`, as the loop does while it is still due."""
    decisions, current = [], start
    while (d := decide(rule, current, now)) is not None and d.fire_for is not None:
        decisions.append(d)
        if d.next_execution_at is None:
            break
        current = replace(current, next_execution_at=d.next_execution_at, execution_count=d.execution_count)
    return decisions


def test_all_fires_every_owed_occurrence_oldest_first_then_moves_on() -> None:
    now = T0 + timedelta(minutes=4, seconds=30)  # 09:00..09:04 owed
    decisions = walk(every_minute(), catching_up(), now)
    assert [d.fire_for for d in decisions] == [T0 + timedelta(minutes=k) for k in range(5)]
    assert [d.next_execution_at for d in decisions] == [T0 + timedelta(minutes=k) for k in range(1, 6)]
    assert [d.coalesced for d in decisions] == [1] * 5 and decisions[-1].execution_count == 5
    assert all(d.also_missed == () and d.missed_for is None for d in decisions)


def test_all_fires_the_newest_catchup_max_and_records_the_older_ones_missed() -> None:
    now = T0 + timedelta(minutes=4, seconds=30)
    first, *rest = walk(every_minute(), catching_up(catchup_max=3), now)
    assert first.fire_for == T0 + timedelta(minutes=2)
    assert first.also_missed == (T0, T0 + timedelta(minutes=1))
    assert [d.fire_for for d in rest] == [T0 + timedelta(minutes=3), T0 + timedelta(minutes=4)]
    assert all(d.also_missed == () for d in rest)


def test_all_counts_toward_max_executions_and_stops_there() -> None:
    now = T0 + timedelta(minutes=4, seconds=30)
    decisions = walk(every_minute(), catching_up(max_executions=2), now)
    assert [d.fire_for for d in decisions] == [T0, T0 + timedelta(minutes=1)]
    assert decisions[-1].status is ScheduleStatus.COMPLETED and decisions[-1].next_execution_at is None


def test_all_beyond_grace_misses_once_then_catches_up_inside_it() -> None:
    now = T0 + timedelta(minutes=10, seconds=30)  # grace 3 min: 09:08..09:10 owed, 09:00 missed
    [first, *rest] = walk(every_minute(), catching_up(grace=180), now)
    assert (first.missed_for, first.fire_for) == (T0, T0 + timedelta(minutes=8))
    assert [d.fire_for for d in rest] == [T0 + timedelta(minutes=9), T0 + timedelta(minutes=10)]


def test_latest_still_coalesces() -> None:
    now = T0 + timedelta(minutes=4, seconds=30)
    [only] = walk(every_minute(), state(), now)
    assert (only.fire_for, only.coalesced, only.also_missed) == (T0 + timedelta(minutes=4), 5, ())


@pytest.mark.parametrize("policy", [OverlapPolicy.SKIP, OverlapPolicy.BUFFER_ONE])
def test_catching_up_queues_behind_unfinished_runs_instead_of_skipping(policy: OverlapPolicy) -> None:
    running = (Unfinished("r1", True), Unfinished("r2", False))
    p = plan(every_minute(), catching_up(), T0, policy, running)
    assert p is not None and (p.fire_status, p.wait_for) == ("queued", ("r1", "r2"))
    full = plan(every_minute(), catching_up(catchup_max=2), T0, policy, running)
    assert full is not None and full.fire_status == "skipped"  # the queue holds catchup_max at most
