"""When does a schedule fire next? Pure functions of a :class:`TimeRule` and an instant."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time, timedelta

from . import zones
from .cron import next_cron, parse_cron
from .rrules import next_rrule, parse_rrule
from .types import ScheduleType, TimeRule, as_utc

_ONE_SECOND = timedelta(seconds=1)
# Excluded days one search jumps over (a range, a weekend and a holiday are one jump each);
# a calendar that leaves nothing in this many jumps leaves the schedule without an occurrence.
MAX_CALENDAR_SKIPS = 1000


def next_occurrence(rule: TimeRule, after: datetime) -> datetime | None:
    """The first occurrence strictly after `after` inside the rule's start/end window, on a
    day its calendar (if any) does not exclude.

    None when there is none (a one-time schedule whose time has passed, a rule that has ended,
    or a window that ends before the next occurrence). The result is aware UTC with whole seconds.
    """
    if rule.calendar is None:
        return _next_base(rule, after)
    return _next_on_calendar(rule, after, None)


def _next_on_calendar(rule: TimeRule, after: datetime,
                      skipped: list[tuple[datetime, str]] | None) -> datetime | None:
    """Occurrences of the rule whose calendar-zone date is excluded are not occurrences: jump
    to the first day the calendar may allow and look again. `skipped` collects (the first
    occurrence a skipped day removed, why)."""
    calendar = rule.calendar
    assert calendar is not None
    zone = zones.zone(calendar.timezone)
    current = after
    for _ in range(MAX_CALENDAR_SKIPS):
        nxt = _next_base(rule, current)
        if nxt is None:
            return None
        excluded = calendar.skip(nxt.astimezone(zone).date())
        if excluded is None:
            return nxt
        resume, reason = excluded
        if skipped is not None:
            skipped.append((nxt, reason))
        current = max(nxt, zones.wall_to_utc(datetime.combine(resume, time()), zone) - _ONE_SECOND)
    return None


def occurrences_explained(rule: TimeRule, after: datetime,
                          count: int) -> tuple[list[datetime], list[tuple[datetime, str]]]:
    """Up to `count` occurrences after `after`, and the days the calendar skipped on the way
    (each as the first occurrence it removed and why)."""
    times: list[datetime] = []
    skipped: list[tuple[datetime, str]] = []
    current = after
    for _ in range(count):
        nxt = _next_on_calendar(rule, current, skipped) if rule.calendar is not None else _next_base(rule, current)
        if nxt is None:
            break
        times.append(nxt)
        current = nxt
    return times, skipped


def _next_base(rule: TimeRule, after: datetime) -> datetime | None:
    """next_occurrence without the calendar."""
    after = as_utc(after)
    if rule.start_date is not None and after < rule.start_date:
        # The window opens at start_date, inclusive.
        after = rule.start_date - _ONE_SECOND
    after = after.replace(microsecond=0)
    if rule.schedule_type is ScheduleType.AFTER:
        return None  # it runs when its upstream's runs end, never at a time of its own
    if rule.schedule_type is ScheduleType.ONE_TIME:
        result = rule.scheduled_time if rule.scheduled_time and rule.scheduled_time > after else None
    elif rule.schedule_type is ScheduleType.INTERVAL:
        result = _next_interval(rule, after)
    elif rule.schedule_type is ScheduleType.RRULE:
        dtstart = rule.start_date or rule.anchor
        assert rule.rrule is not None and dtstart is not None
        result = next_rrule(parse_rrule(rule.rrule), rule.timezone, dtstart, after)
    else:
        assert rule.cron_expression is not None
        result = next_cron(parse_cron(rule.cron_expression), rule.timezone, after)
    if result is not None and rule.end_date is not None and result > rule.end_date:
        return None
    return result


def _next_interval(rule: TimeRule, after: datetime) -> datetime:
    """anchor + k * interval for the smallest k with a result after `after`: no drift."""
    assert rule.interval_seconds and rule.anchor is not None
    anchor = rule.anchor
    if after < anchor:
        return anchor
    steps = int((after - anchor).total_seconds()) // rule.interval_seconds + 1
    return anchor + timedelta(seconds=steps * rule.interval_seconds)


def occurrences(rule: TimeRule, after: datetime, count: int) -> list[datetime]:
    """Up to `count` consecutive occurrences after `after` (fewer if the window ends)."""
    return list(_iter(rule, after, count))


def _iter(rule: TimeRule, after: datetime, count: int) -> Iterator[datetime]:
    current = after
    for _ in range(count):
        nxt = next_occurrence(rule, current)
        if nxt is None:
            return
        yield nxt
        current = nxt


def occurrences_between(rule: TimeRule, first: datetime, last: datetime, limit: int) -> list[datetime]:
    """The occurrences in [first, last], oldest first, at most `limit` of them. `first` must
    itself be an occurrence."""
    found = [as_utc(first)]
    while len(found) < limit and (nxt := next_occurrence(rule, found[-1])) is not None and nxt <= last:
        found.append(nxt)
    return found


def latest_at_or_before(rule: TimeRule, first: datetime, now: datetime) -> tuple[datetime, int]:
    """The last occurrence in [first, now] and how many occurrences [first, that one] holds.

    `first` must itself be an occurrence <= now. Used to coalesce several due occurrences into
    one fire. Interval rules without a calendar are arithmetic; the others walk forward, which the grace window bounds.
    """
    limit = min(as_utc(now), rule.end_date) if rule.end_date is not None else as_utc(now)
    if rule.schedule_type is ScheduleType.INTERVAL and rule.calendar is None:
        assert rule.interval_seconds and rule.anchor is not None
        steps = int((limit - first).total_seconds()) // rule.interval_seconds
        return first + timedelta(seconds=steps * rule.interval_seconds), steps + 1
    latest, count = first, 1
    while (nxt := next_occurrence(rule, latest)) is not None and nxt <= limit:
        latest, count = nxt, count + 1
    return latest, count


def minutes_between(rule: TimeRule, start: datetime, end: datetime, cap: int) -> set[int]:
    """Epoch minutes in (start, end] in which `rule` fires (at most `cap` occurrences looked at)."""
    out: set[int] = set()
    current = start
    for _ in range(cap):
        nxt = next_occurrence(rule, current)
        if nxt is None or nxt > end:
            break
        out.add(int(nxt.timestamp()) // 60)
        current = nxt
    return out
