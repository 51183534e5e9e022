"""The `!schedule` chat grammar: text -> typed command -> schedule spec. Pure, no I/O.

`now` is fixed at Sunday 2026-11-22 12:00:00 UTC (Berlin 13:00 CET, New York 07:00 EST) unless a
case says otherwise; DST cases move it next to a transition.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workflow_core_module.chat import (
    EXAMPLES,
    Add,
    ChatParseError,
    Command,
    Help,
    Info,
    List,
    Next,
    Pause,
    Remove,
    Rename,
    Resume,
    RunNow,
    SetTimezone,
    Target,
    parse_command,
    schedule_spec,
)
from workflow_core_module.chat.commands import AddManagers, RemoveManagers, SetAlerts, SetDateOrder, SetPlatform
from workflow_core_module.scheduling import ScheduleType, TimeRule, next_occurrence, occurrences, parse_cron

UTC = timezone.utc
NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)  # a Sunday
BERLIN = "Europe/Berlin"
NY = "America/New_York"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@dataclass(frozen=True)
class AddCase:
    text: str
    spec: dict[str, Any]  # schedule_spec(add) minus "timezone" (checked separately)
    when_text: str
    zone: str = "UTC"
    now: datetime = NOW
    extra: dict[str, Any] = field(default_factory=dict)  # other Add fields: say, run, name, until, times


def cron(expression: str) -> dict[str, Any]:
    return {"schedule_type": "cron", "cron_expression": expression}


def interval(seconds: int) -> dict[str, Any]:
    return {"schedule_type": "interval", "interval_seconds": seconds}


def once(iso: str) -> dict[str, Any]:
    return {"schedule_type": "one_time", "scheduled_time": iso}


def case(text: str, spec: dict[str, Any], when_text: str, zone: str = "UTC", now: datetime = NOW, **extra: Any) -> Any:
    return pytest.param(AddCase(text, spec, when_text, zone, now, extra), id=f"{text} [{zone}]")


ADD_CASES = [
    # --- cron in quotes -----------------------------------------------------------------------
    case('add "0 9 * * 1-5" say Good morning', cron("0 9 * * 1-5"), "at 09:00, Monday through Friday",
         say="Good morning"),
    case("add '0 9 * * 1-5' say hi", cron("0 9 * * 1-5"), "at 09:00, Monday through Friday", BERLIN),
    case('add "30 0 9 * * *" say hi', cron("30 0 9 * * *"), "at 09:00:30"),
    case("add “0 18 * * *” say phone quotes", cron("0 18 * * *"), "at 18:00", NY),
    case('add "0   9 * *  *" say hi', cron("0 9 * * *"), "at 09:00"),
    case("add @daily say hi", cron("0 0 * * *"), "at 00:00"),
    case('add "0 17 * * L5" say weekend', cron("0 17 * * L5"), "at 17:00, on the last Friday of the month"),
    # --- every N <unit>: clock-aligned cron when it divides the hour/day, else an interval ---------
    case("add every 30m say x", cron("*/30 * * * *"), "every 30 minutes"),
    case("add every 15 minutes say x", cron("*/15 * * * *"), "every 15 minutes", BERLIN),
    case("add every 2 hours say x", cron("0 */2 * * *"), "every 2 hours"),
    case("add every 12h say x", cron("0 */12 * * *"), "every 12 hours"),
    case("add every hour say x", cron("0 * * * *"), "every hour"),
    case("add every minute say x", cron("* * * * *"), "every minute"),
    case("add every 60 minutes say x", cron("0 * * * *"), "every hour"),
    case("add every 120 minutes say x", cron("0 */2 * * *"), "every 2 hours"),
    case("add every 24 hours say x", cron("0 0 * * *"), "every day at 00:00"),
    case("add every 10s say x", cron("*/10 * * * * *"), "every 10 seconds"),
    case("add every 30 sec say x", cron("*/30 * * * * *"), "every 30 seconds"),
    case("add every 90 minutes say x", interval(5400), "every 1 hour 30 minutes"),
    case("add every 1h30m say x", interval(5400), "every 1 hour 30 minutes"),
    case("add every 1 hour and 30 minutes say x", interval(5400), "every 1 hour 30 minutes"),
    case("add every 1.5 hours say x", interval(5400), "every 1 hour 30 minutes"),
    case("add every 7 minutes say x", interval(420), "every 7 minutes"),
    case("add every 45 seconds say x", interval(45), "every 45 seconds"),
    case("add every 5 hours say x", interval(18000), "every 5 hours"),
    case("add every 2 days say x", interval(172800), "every 2 days"),
    case("add every 2 weeks say x", interval(1209600), "every 2 weeks"),
    # --- every <days> at <time> ---------------------------------------------------------------
    case("add every day at 18:00 say Stream starts soon!", cron("0 18 * * *"), "every day at 18:00",
         say="Stream starts soon!"),
    case("add every weekday at 9am say x", cron("0 9 * * 1-5"), "every weekday at 09:00", BERLIN),
    case("add every monday,thursday at 20:30 say x", cron("30 20 * * 1,4"), "every Monday and Thursday at 20:30"),
    case("add every mon and thu at 8pm say x", cron("0 20 * * 1,4"), "every Monday and Thursday at 20:00", NY),
    case("add every weekend at 10 say x", cron("0 10 * * 0,6"), "every weekend at 10:00"),
    case("add every mon-fri at 7:30 say x", cron("30 7 * * 1-5"), "every weekday at 07:30"),
    case("add every monday to wednesday at 9 say x", cron("0 9 * * 1-3"),
         "every Monday, Tuesday and Wednesday at 09:00"),
    case("add every fri-mon at 22:00 say x", cron("0 22 * * 0,1,5,6"),
         "every Monday, Friday, Saturday and Sunday at 22:00"),
    case("add every tue, wed & sat at 9:15pm say x", cron("15 21 * * 2,3,6"),
         "every Tuesday, Wednesday and Saturday at 21:15"),
    case("add every saturdays at 12 am say x", cron("0 0 * * 6"), "every Saturday at 00:00"),
    case("add every day at 9 and 21 say x", cron("0 9,21 * * *"), "every day at 09:00 and 21:00"),
    case("add every day at 9:00, 9:30 say x", cron("0,30 9 * * *"), "every day at 09:00 and 09:30"),
    case("add every day at 9:00:30 say x", cron("30 0 9 * * *"), "every day at 09:00:30"),
    case("add every day at noon say x", cron("0 12 * * *"), "every day at 12:00"),
    case("add every day at midnight say x", cron("0 0 * * *"), "every day at 00:00"),
    case("add EVERY Day AT 18.30 SAY Loud", cron("30 18 * * *"), "every day at 18:30", say="Loud"),
    case("add every first monday of the month at 19:00 say x", cron("0 19 * * 1#1"),
         "every first Monday of the month at 19:00"),
    case("add every last friday of the month at 17:00 say x", cron("0 17 * * L5"),
         "every last Friday of the month at 17:00"),
    case("add every 2nd tuesday at 18:30 say x", cron("30 18 * * 2#2"), "every second Tuesday of the month at 18:30"),
    case("add every last sunday of every month at 9 say x", cron("0 9 * * L0"), "every last Sunday of the month at 09:00"),
    case("add every month on the 15th at 12:00 say x", cron("0 12 15 * *"), "every month on the 15th at 12:00"),
    case("add every month on the last day at 9 say x", cron("0 9 L * *"), "every month on the last day at 09:00"),
    # --- in <duration> ------------------------------------------------------------------------
    case("add in 10 minutes say x", once("2026-11-22T12:10:00Z"), "in 10 minutes"),
    case("add in 2h say x", once("2026-11-22T14:00:00Z"), "in 2 hours", BERLIN),
    case("add in 1h30m say x", once("2026-11-22T13:30:00Z"), "in 1 hour 30 minutes"),
    case("add in an hour say x", once("2026-11-22T13:00:00Z"), "in 1 hour"),
    case("add in 1 hour and 15 minutes say x", once("2026-11-22T13:15:00Z"), "in 1 hour 15 minutes"),
    case("add in 3 days say x", once("2026-11-25T12:00:00Z"), "in 3 days", NY),
    case("add in 90s say x", once("2026-11-22T12:01:30Z"), "in 1 minute 30 seconds",
         now=datetime(2026, 11, 22, 12, 0, 0, 750000, tzinfo=UTC)),
    # --- at / today / tomorrow ----------------------------------------------------------------
    case("add at 18:30 say x", once("2026-11-22T18:30:00Z"), "today at 18:30"),
    case("add at 18:30 say x", once("2026-11-22T17:30:00Z"), "today at 18:30", BERLIN),
    case("add at 11:00 say x", once("2026-11-23T11:00:00Z"), "tomorrow at 11:00"),
    case("add at 12:00 say x", once("2026-11-23T12:00:00Z"), "tomorrow at 12:00"),
    case("add at 9:15pm say x", once("2026-11-23T02:15:00Z"), "today at 21:15", NY),
    case("add at 9:15 pm say x", once("2026-11-22T21:15:00Z"), "today at 21:15"),
    case("add at noon say x", once("2026-11-22T17:00:00Z"), "today at 12:00", NY),
    case("add at midnight say x", once("2026-11-23T00:00:00Z"), "tomorrow at 00:00"),
    case("add today at 18:00 say x", once("2026-11-22T18:00:00Z"), "today at 18:00"),
    case("add tomorrow at 9 say x", once("2026-11-23T09:00:00Z"), "tomorrow at 09:00"),
    case("add tomorrow at 9 say x", once("2026-11-23T08:00:00Z"), "tomorrow at 09:00", BERLIN),
    case("add tomorrow at 9 say x", once("2026-11-23T14:00:00Z"), "tomorrow at 09:00", NY),
    case("add tomorrow 9am say x", once("2026-11-23T14:00:00Z"), "tomorrow at 09:00", NY),
    case("add at 9 tomorrow say x", once("2026-11-23T09:00:00Z"), "tomorrow at 09:00"),
    # DST: tomorrow is the spring-forward / fall-back day
    case("add tomorrow at 9 say x", once("2027-03-14T13:00:00Z"), "tomorrow at 09:00", NY, utc(2027, 3, 13, 12)),
    case("add tomorrow at 9 say x", once("2027-03-28T07:00:00Z"), "tomorrow at 09:00", BERLIN, utc(2027, 3, 27, 12)),
    case("add tomorrow at 2:30 say gap", once("2027-03-14T07:00:00Z"), "tomorrow at 03:00", NY, utc(2027, 3, 13, 12)),
    case("add tomorrow at 1:30 say twice", once("2027-11-07T05:30:00Z"), "tomorrow at 01:30", NY, utc(2027, 11, 6, 12)),
    # --- on <date> ------------------------------------------------------------------------------
    case("add on 2026-12-24 at 18:00 say x", once("2026-12-24T17:00:00Z"), "on Thu 24 Dec at 18:00", BERLIN),
    case("add on dec 24 at 18:00 say x", once("2026-12-24T23:00:00Z"), "on Thu 24 Dec at 18:00", NY),
    case("add on 24 december at 6pm say x", once("2026-12-24T18:00:00Z"), "on Thu 24 Dec at 18:00"),
    case("add on the 24th of december at 18:00 say x", once("2026-12-24T18:00:00Z"), "on Thu 24 Dec at 18:00"),
    case("add on dec 24, 2027 at 18:00 say x", once("2027-12-24T18:00:00Z"), "on Fri 24 Dec 2027 at 18:00"),
    case("add on jan 5 at 9 say x", once("2027-01-05T09:00:00Z"), "on Tue 5 Jan 2027 at 09:00"),
    case("add on nov 22 at 9 say x", once("2027-11-22T09:00:00Z"), "on Mon 22 Nov 2027 at 09:00"),
    case("add on friday at 20:00 say x", once("2026-11-27T20:00:00Z"), "on Fri 27 Nov at 20:00"),
    case("add on sunday at 18:00 say x", once("2026-11-22T18:00:00Z"), "today at 18:00"),
    case("add on sunday at 9 say x", once("2026-11-29T09:00:00Z"), "on Sun 29 Nov at 09:00"),
    case("add 2026-12-24 18:00 say x", once("2026-12-24T18:00:00Z"), "on Thu 24 Dec at 18:00"),
    case("add at 18:00 on dec 24 say x", once("2026-12-24T18:00:00Z"), "on Thu 24 Dec at 18:00"),
    case("add on feb 29 at 12 say leap", once("2028-02-29T12:00:00Z"), "on Tue 29 Feb 2028 at 12:00"),
    # --- options: until, times, as (any order, before or after <when>) ---------------------------
    case("add every day at 9 until 2026-12-31 say x", {**cron("0 9 * * *"), "end_date": "2026-12-31T22:59:59Z"},
         "every day at 09:00", BERLIN, until=utc(2026, 12, 31, 22, 59, 59)),
    case("add every day at 9 until dec 31 say x", {**cron("0 9 * * *"), "end_date": "2026-12-31T23:59:59Z"},
         "every day at 09:00"),
    case("add every day at 9 until dec 31 at 18:00 say x",
         {**cron("0 9 * * *"), "end_date": "2026-12-31T23:00:00Z"}, "every day at 09:00", NY),
    case("add every hour until tomorrow say x", {**cron("0 * * * *"), "end_date": "2026-11-23T23:59:59Z"},
         "every hour"),
    case("add every 30m until 18:00 say x", {**cron("*/30 * * * *"), "end_date": "2026-11-22T18:00:00Z"},
         "every 30 minutes"),
    case("add every day at 9 until 2027-01-15 say x", {**cron("0 9 * * *"), "end_date": "2027-01-16T04:59:59Z"},
         "every day at 09:00", NY),
    case("add every 30 minutes times 5 say x", {**cron("*/30 * * * *"), "max_executions": 5}, "every 30 minutes",
         times=5),
    case("add every day at 9 3 times say x", {**cron("0 9 * * *"), "max_executions": 3}, "every day at 09:00", times=3),
    case("add every day at 18:00 as reminder say x", cron("0 18 * * *"), "every day at 18:00", name="reminder"),
    case("add as nightly every day at 9 say x", cron("0 9 * * *"), "every day at 09:00", name="nightly"),
    case('add every day at 9 as "stream soon" say x', cron("0 9 * * *"), "every day at 09:00", name="stream-soon"),
    case("add every 90 minutes times 3 as water until 2026-12-01 say Drink",
         {**interval(5400), "end_date": "2026-12-01T23:59:59Z", "max_executions": 3}, "every 1 hour 30 minutes",
         name="water", times=3, until=utc(2026, 12, 1, 23, 59, 59), say="Drink"),
    case("add on dec 24 at 18:00 until dec 31 say x", {**once("2026-12-24T18:00:00Z"), "end_date": "2026-12-31T23:59:59Z"},
         "on Thu 24 Dec at 18:00"),
    # --- say / run: the rest of the line ---------------------------------------------------------
    case("add in 10 minutes say   Don't forget: \"stream\" as well  ", once("2026-11-22T12:10:00Z"), "in 10 minutes",
         say='Don\'t forget: "stream" as well'),
    case("add every day at 9 say hi as x until friday times 3", cron("0 9 * * *"), "every day at 09:00",
         say="hi as x until friday times 3", name=None, times=None),
    case("add every day at 9 say line one\nline two", cron("0 9 * * *"), "every day at 09:00", say="line one\nline two"),
    case("add every day at 03:00 run nightly backup", cron("0 3 * * *"), "every day at 03:00",
         run="nightly backup", say=None),
    case('add every day at 03:00 run "Nightly Backup"', cron("0 3 * * *"), "every day at 03:00", run="Nightly Backup"),
    case("!schedule add in 5m say prefixed", once("2026-11-22T12:05:00Z"), "in 5 minutes", say="prefixed"),
    case("!SCHED add in 5m say short prefix", once("2026-11-22T12:05:00Z"), "in 5 minutes", say="short prefix"),
]


@pytest.mark.parametrize("c", ADD_CASES)
def test_add(c: AddCase) -> None:
    command = parse_command(c.text, now=c.now, timezone=c.zone)
    assert isinstance(command, Add)
    assert schedule_spec(command) == {**c.spec, "timezone": c.zone}
    assert command.when.text == c.when_text
    assert command.when.timezone == c.zone
    for name, value in c.extra.items():
        assert getattr(command, name) == value, name
    _check_add_invariants(command, c.now)


def _check_add_invariants(command: Add, now: datetime) -> None:
    """What every parsed Add guarantees, whatever the input."""
    when = command.when
    assert when.schedule_type in ("cron", "interval", "one_time")
    assert (when.cron_expression is not None) == (when.schedule_type == "cron")
    assert (when.interval_seconds is not None) == (when.schedule_type == "interval")
    assert (when.scheduled_time is not None) == (when.schedule_type == "one_time")
    assert (command.say is None) != (command.run is None)
    if when.cron_expression is not None:
        parse_cron(when.cron_expression)
    if when.interval_seconds is not None:
        assert when.interval_seconds >= 1
    if when.start is not None:  # an interval anchored on a wall time: its first run
        assert when.interval_seconds is not None and when.interval_seconds % 86400 == 0
        assert when.start.tzinfo is UTC and when.start.microsecond == 0 and when.start > now
    if when.scheduled_time is not None:
        assert when.scheduled_time.tzinfo is UTC and when.scheduled_time.microsecond == 0
        assert when.scheduled_time > now
    if command.until is not None:
        assert command.until.tzinfo is UTC and command.until > now
        rule = TimeRule(ScheduleType(when.schedule_type), when.timezone, when.cron_expression, when.interval_seconds,
                        when.scheduled_time, start_date=when.start, end_date=command.until,
                        anchor=when.start or now.replace(microsecond=0))
        assert next_occurrence(rule, now) is not None
    if command.times is not None:
        assert command.times >= 1 and when.schedule_type != "one_time"
    if command.say is not None:
        assert 1 <= len(command.say) <= 400 and command.say == command.say.strip()
    if command.name is not None:
        assert re.fullmatch(r"[\w-]{1,50}", command.name) and not command.name.isdigit()


# ---- the other commands ------------------------------------------------------------------------

OTHER_CASES = [
    ("", Help(None)),
    ("   ", Help(None)),
    ("!schedule", Help(None)),
    ("help", Help(None)),
    ("help add", Help("add")),
    ("HELP Add", Help("add")),
    ("help tz", Help("timezone")),
    ("help when", Help("when")),
    ("help rm please", Help("remove")),
    ("list", List()),
    ("LS", List()),
    ("!schedule list", List()),
    ("info nightly", Info(Target("nightly", None))),
    ("info #3", Info(Target(None, 3))),
    ("info 3", Info(Target(None, 3))),
    ("show #1", Info(Target(None, 1))),
    ('info "stream soon"', Info(Target("stream-soon", None))),
    ("next #2", Next(Target(None, 2))),
    ("pause nightly", Pause(Target("nightly", None))),
    ("pause nightly for 2 hours because raid", Pause(Target("nightly", None), NOW + timedelta(hours=2), "raid")),
    ("pause #2 for 90m", Pause(Target(None, 2), NOW + timedelta(minutes=90))),
    ("pause nightly until 18:00", Pause(Target("nightly", None), NOW + timedelta(hours=6))),
    ("pause nightly until dec 24 because the holidays are coming",
     Pause(Target("nightly", None), datetime(2026, 12, 24, 23, 59, 59, tzinfo=UTC), "the holidays are coming")),
    ("pause nightly because  mods away ", Pause(Target("nightly", None), None, "mods away")),
    ("resume 'stream   soon'", Resume(Target("stream-soon", None))),
    ("remove #4", Remove(Target(None, 4))),
    ("delete old_one", Remove(Target("old_one", None))),
    ("rm x", Remove(Target("x", None))),
    ("run nightly", RunNow(Target("nightly", None))),
    ("run #1", RunNow(Target(None, 1))),
    ("rename nightly daily", Rename(Target("nightly", None), "daily")),
    ("rename #2 to evening", Rename(Target(None, 2), "evening")),
    ('rename "old name" "new name"', Rename(Target("old-name", None), "new-name")),
    ("rename to to", Rename(Target("to", None), "to")),
    ("timezone Europe/Berlin", SetTimezone("Europe/Berlin")),
    ("tz america/new_york", SetTimezone("America/New_York")),
    ("timezone utc", SetTimezone("UTC")),
    ("Timezone Asia/Kolkata", SetTimezone("Asia/Kolkata")),
]


PAUSE_ERRORS = [
    ("pause nightly for", "unit"),
    ("pause nightly for 2", "unit"),
    ("pause nightly until", "Until when"),
    ("pause nightly because", "Because of what"),
    ("pause nightly because " + "x" * 501, "the most is 500"),
    ("pause nightly tomorrow", "didn't expect"),
    ("pause nightly for 400 days", "too long"),
]


@pytest.mark.parametrize(("text", "problem"), PAUSE_ERRORS)
def test_a_wrong_pause_says_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ChatParseError) as caught:
        parse_command(text, now=NOW)
    assert problem in str(caught.value) and "Try: !schedule" in str(caught.value)


@pytest.mark.parametrize(("text", "expected"), OTHER_CASES, ids=[t or "<empty>" for t, _ in OTHER_CASES])
def test_other_commands(text: str, expected: Command) -> None:
    assert parse_command(text, now=NOW) == expected


# ---- errors: one line, < 300 characters, naming the word, with an example ----------------------

ERROR_CASES = [
    # (text, zone, regex the message must match, the offending word)
    ("add evry day at 18:00 say x", "UTC", r'I don\'t know "evry" \(did you mean "every"\?\)', "evry"),
    ("frobnicate", "UTC", r'I don\'t know "frobnicate"', "frobnicate"),
    ("pase nightly", "UTC", r'"pase" \(did you mean "pause"\?\)', "pase"),
    ("add every day say x", "UTC", r'At what time\? Add at <time> before "say"', "say"),
    ("add every monday say x", "UTC", r"At what time\?", "say"),
    ("add at 25:00 say x", "UTC", r'"25:00" is not a time of day', "25:00"),
    ("add at 13pm say x", "UTC", r'"13pm" is not a time: with am/pm the hour is 1-12', "13pm"),
    ("add at 9:75 say x", "UTC", r'"9:75" is not a time of day', "9:75"),
    ("add at soon say x", "UTC", r'"soon" is not a time of day', "soon"),
    ("add '0 9 * *' say x", "UTC", r'The cron "0 9 \* \*" has 4 fields', "0 9 * *"),
    ('add "0 9 * * 8" say x', "UTC", r"invalid day of week field '8'", "0 9 * * 8"),
    ('add "61 * * * *" say x', "UTC", r"invalid minute field '61'", "61 * * * *"),
    ('add "0 9 * * 1-5 say x', "UTC", r'The quote before "0 9 \* \* 1-5 say x" is never closed', '"0 9 * * 1-5 say x'),
    ("add 0 9 * * * say x", "UTC", r'Put a cron expression in quotes, starting at "0"', "0"),
    ("add say hi", "UTC", r'When should it run\? Put the time before "say"', "say"),
    ("add", "UTC", r"When should it run\?", None),
    ("add every day at 9 sya hi", "UTC", r'not "sya" \(did you mean "say"\?\)', "sya"),
    ("add every day at 9", "UTC", r"What should happen every day at 09:00\? End with say", None),
    ("add every day at 9 say   ", "UTC", r"What should I say\?", "say"),
    ("add every day at 9 say " + "x" * 401, "UTC", r"The message is 401 characters long; the most is 400", None),
    ("add every day at 9 say bell\x07", "UTC", r"control character", None),
    ("add every day at 9 say lone \ud800 surrogate", "UTC", r"control character", None),
    ("add every day at 9 run ", "UTC", r"Which workflow\?", "run"),
    ("add every day at 9 run nightly\x00", "UTC", r"The workflow name contains a control character", None),
    ("add in 10 minutes times 3 say x", "UTC", r"A one-time schedule runs once", "times"),
    ("add every day at 9 times 0 say x", "UTC", r'times needs a whole number from 1 to 1,000,000, not "0"', "0"),
    ("add every day at 9 times -1 say x", "UTC", r'not "-1"', "-1"),
    ("add every day at 9 times many say x", "UTC", r'not "many"', "many"),
    ("add every day at 9 times 2 times 3 say x", "UTC", r'You gave "times" twice', "times"),
    ("add every day at 9 until 2026-11-01 say x", "UTC", r"Sun 1 Nov 2026 has already passed", "2026-11-01"),
    ("add on 2026-01-01 at 9 say x", "UTC", r"Thu 1 Jan 2026 at 09:00 has already passed", "2026-01-01"),
    ("add today at 9 say x", "UTC", r"today at 09:00 has already passed", "today"),
    ("add on dec 24 at 18:00 until dec 20 say x", "UTC",
     r"until ends it on Sun 20 Dec at 23:59:59, before its first run on Thu 24 Dec at 18:00", "until"),
    ("add every day at 9 until 18:00 say x", "UTC", r"until ends it today at 18:00, before its first run tomorrow", "until"),
    ("add every day at 9 as bad!name say x", "UTC", r'"bad!name" can\'t be a name: use 1-50 letters', "bad!name"),
    ("add every day at 9 as 123 say x", "UTC", r'"123" can\'t be a name: a number alone means #123', "123"),
    ("add every day at 9 as " + "n" * 51 + " say x", "UTC", r"can't be a name", "n" * 51),
    ("add every day at 9 as a as b say x", "UTC", r'You gave "as" twice', "as"),
    ("add every day at 9 as", "UTC", r"Which name\?", None),
    ("add on feb 30 at 9 say x", "UTC", r"There is no day 30 in February", "30"),
    ("add on 2026-02-30 at 9 say x", "UTC", r'"2026-02-30" is not a date', "2026-02-30"),
    ("add on 24 decembre at 9 say x", "UTC", r'Which month\? "decembre" is not one', "decembre"),
    ("add on someday at 9 say x", "UTC", r'I don\'t know "someday"', "someday"),
    ("add today say x", "UTC", r"At what time today\? Add at <time>\.", None),
    ("add tomorrow morning say x", "UTC", r"At what time tomorrow morning\? .* Try: !schedule add tomorrow at 9", None),
    ("add at 9 at 10 say x", "UTC", r"You gave the time twice", "at"),
    ("add every 0 minutes say x", "UTC", r'"0" is too short', "0"),
    ("add every 400 days say x", "UTC", r"too long; the longest is 366 days", "400"),
    ("add every 30 say x", "UTC", r'"30" what\? Add a unit', "30"),
    ("add in 10 parsecs say x", "UTC", r'"10" what\? Add a unit', "10"),
    ("add in 10x say x", "UTC", r'I don\'t know the unit "x" in "10x"', "10x"),
    ("add every week say x", "UTC", r"Which day of the week\?", "week"),
    ("add every 2 hours at 9 say x", "UTC", r"A time of day does not go with every 2 hours", "2"),
    ("add every day at 9:15 and 10:30 say x", "UTC", r"I can't combine 09:15 and 10:30 in one schedule", None),
    ("add every first monday of the year at 9 say x", "UTC", r'I expected "of the month", not "year"', "year"),
    ("add every month on the 32nd at 9 say x", "UTC", r'Which day of the month\? "32nd" is not one', "32nd"),
    ("add every day at 9 say x", "Mars/Olympus", r'This community\'s time zone "Mars/Olympus" is not valid', None),
    ("add " + "x" * 2001, "UTC", r"That command is too long \(2005 characters; at most 2000\)", None),
    ("info", "UTC", r"Which schedule\?", None),
    ("info #0", "UTC", r'There is no schedule "#0"; numbers start at #1', "#0"),
    ("info #abc", "UTC", r'"#abc" is not a number', "#abc"),
    ("info a b", "UTC", r'I didn\'t expect "b" here', "b"),
    ("list all", "UTC", r'I didn\'t expect "all" here; list takes a page number\. Try: !schedule list 2', "all"),
    ("list 0", "UTC", r'I didn\'t expect "0" here', "0"),
    ("list 2 3", "UTC", r'I didn\'t expect "3" here', "3"),
    ("rename a", "UTC", r"Rename to what\?", None),
    ("rename a b c", "UTC", r'I didn\'t expect "c" here', "c"),
    ("timezone", "UTC", r"Which time zone\?", None),
    ("timezone Mars/Olympus", "UTC", r'I don\'t know the time zone "Mars/Olympus"', "Mars/Olympus"),
    ("timezone berlin", "UTC", r'"berlin" \(did you mean "Europe/Berlin"\?\)', "berlin"),
    ("timezone Europe/Berln", "UTC", r'\(did you mean "Europe/Berlin"\?\)', "Europe/Berln"),
    ("timezone localtime", "UTC", r'I don\'t know the time zone "localtime"', "localtime"),
    ("timezone ../../etc/passwd", "UTC", r"I don't know the time zone", "../../etc/passwd"),
    ("timezone +02:00", "UTC", r'I don\'t know the time zone "\+02:00"', "+02:00"),
    ("timezone Europe/Berlin now", "UTC", r'I didn\'t expect "now" here', "now"),
    ("help foo", "UTC", r'I don\'t know "foo"', "foo"),
]


@pytest.mark.parametrize(("text", "zone", "pattern", "word"), ERROR_CASES, ids=[t[:50] for t, *_ in ERROR_CASES])
def test_errors(text: str, zone: str, pattern: str, word: str | None) -> None:
    with pytest.raises(ChatParseError, match=pattern) as info:
        parse_command(text, now=NOW, timezone=zone)
    error = info.value
    assert error.word == word
    _check_message(error)
    assert " Try: !schedule " in error.message


def _check_message(error: ChatParseError) -> None:
    assert isinstance(error.message, str) and 0 < len(error.message) < 300
    assert str(error) == error.message
    assert error.message.isprintable(), repr(error.message)


def test_error_is_a_value_error() -> None:
    assert issubclass(ChatParseError, ValueError)


def test_naive_now_is_read_as_utc() -> None:
    command = parse_command("add in 10 minutes say x", now=NOW.replace(tzinfo=None))
    assert isinstance(command, Add) and command.when.scheduled_time == utc(2026, 11, 22, 12, 10)


def test_commands_are_frozen() -> None:
    command = parse_command("add every hour say x", now=NOW)
    assert isinstance(command, Add)
    with pytest.raises(AttributeError):
        command.say = "y"  # type: ignore[misc]


def _add(when_text: str, spec: dict[str, Any], **fields: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """What an `add` example must become: how it is said, its schedule spec, its other fields."""
    return when_text, {"timezone": BERLIN, **spec}, {"say": None, "run": None, "name": None, "until": None,
                                                     "times": None, **fields}


# Each example read in Berlin on Sunday 2026-11-22 13:00 CET (12:00 UTC).
EXAMPLE_MEANS: dict[str, Any] = {
    "managers": AddManagers(("123456789",)),
    "managers_remove": RemoveManagers(("123456789",)),
    "platform": SetPlatform("twitch"),
    "alerts": SetAlerts(Target("nightly", None), True),
    "add": _add("every day at 18:00", cron("0 18 * * *"), say="Stream starts soon!"),
    "cron": _add("at 09:00, Monday through Friday", cron("0 9 * * 1-5"), say="Good morning!"),
    "every": _add("every Monday and Thursday at 20:30", cron("30 20 * * 1,4"), say="Raid night!"),
    "every_nth": _add("every first Monday of the month at 19:00", cron("0 19 * * 1#1"), say="Community meeting"),
    "every_month": _add("every month on the 15th at 12:00", cron("0 12 15 * *"), say="Half-time!"),
    # the next 10:00 in Berlin (today's has passed at 13:00), then every 48 hours
    "every_other": _add("every other day at 10:00", {**interval(172800), "start_date": "2026-11-23T09:00:00Z"},
                        say="Water the plants"),
    "morning": _add("every day at 08:00", cron("0 8 * * *"), say="Good morning!"),
    "hourly": _add("every hour at :30", cron("30 * * * *"), say="Stretch break"),
    "yearly": _add("every year on 24 Dec at 18:00", cron("0 18 24 12 *"), say="Merry Christmas!"),
    "interval": _add("every 30 minutes", cron("*/30 * * * *"), say="Drink some water"),
    "in": _add("in 10 minutes", {"schedule_type": "one_time", "scheduled_time": "2026-11-22T12:10:00Z"},
               say="Break is over"),
    "at": _add("today at 18:30", {"schedule_type": "one_time", "scheduled_time": "2026-11-22T17:30:00Z"},
               say="Going live soon!"),
    "on": _add("on Thu 24 Dec at 18:00", {"schedule_type": "one_time", "scheduled_time": "2026-12-24T17:00:00Z"},
               say="Merry Christmas!"),
    "tomorrow": _add("tomorrow at 09:00", {"schedule_type": "one_time", "scheduled_time": "2026-11-23T08:00:00Z"},
                     say="Good morning!"),
    # until the end of Dec 31 in Berlin (CET): 23:59:59 local is 22:59:59 UTC
    "until": _add("every day at 09:00", {**cron("0 9 * * *"), "end_date": "2026-12-31T22:59:59Z"},
                  say="Advent calendar!", until=utc(2026, 12, 31, 22, 59, 59)),
    "times": _add("every 30 minutes", {**cron("*/30 * * * *"), "max_executions": 5}, say="Drink some water", times=5),
    "as": _add("every day at 18:00", cron("0 18 * * *"), say="Stream soon!", name="reminder"),
    "say": _add("every day at 18:00", cron("0 18 * * *"), say="Stream starts soon!"),
    "run": _add("every day at 03:00", cron("0 3 * * *"), run="nightly-backup"),
    "list": List(),
    "list_page": List(2),
    "dateorder": SetDateOrder("dmy"),
    "info": Info(Target("nightly", None)),
    "next": Next(Target(None, 2)),
    "pause": Pause(Target("nightly", None), NOW + timedelta(hours=2), "raid"),
    "resume": Resume(Target("nightly", None)),
    "remove": Remove(Target(None, 2)),
    "run_now": RunNow(Target("nightly", None)),
    "rename": Rename(Target("nightly", None), "evening-reminder"),
    "timezone": SetTimezone(BERLIN),
    "help": Help("add"),
}


def test_every_example_has_its_meaning_written_down() -> None:
    assert set(EXAMPLE_MEANS) == set(EXAMPLES)


@pytest.mark.parametrize("key", sorted(EXAMPLES))
def test_the_examples_in_error_messages_mean_what_they_say(key: str) -> None:
    command = parse_command(EXAMPLES[key], now=NOW, timezone=BERLIN)
    expected = EXAMPLE_MEANS[key]
    if not isinstance(expected, tuple):
        assert command == expected
        return
    when_text, spec, fields = expected
    assert isinstance(command, Add)
    assert command.when.text == when_text
    assert schedule_spec(command) == spec
    assert {name: getattr(command, name) for name in fields} == fields


def test_every_mapping_rule_for_minutes_and_hours() -> None:
    """N minutes dividing 60 and N hours dividing 24 are clock-aligned crons; the rest intervals."""
    for minutes in range(1, 181):
        command = parse_command(f"add every {minutes} minutes say x", now=NOW)
        assert isinstance(command, Add)
        spec = schedule_spec(command)
        if minutes % 60 == 0 and 24 % (minutes // 60) == 0:
            hours = minutes // 60
            assert spec["cron_expression"] == ("0 * * * *" if hours == 1 else f"0 */{hours} * * *"), minutes
        elif 60 % minutes == 0:
            assert spec["cron_expression"] == ("* * * * *" if minutes == 1 else f"*/{minutes} * * * *"), minutes
        else:
            assert spec == {"schedule_type": "interval", "interval_seconds": minutes * 60, "timezone": "UTC"}


# ---- fuzz: nothing but ChatParseError, whatever is typed --------------------------------------

GRAMMAR_WORDS = [
    "add", "list", "info", "next", "pause", "resume", "remove", "run", "rename", "timezone", "help", "say", "as",
    "until", "times", "every", "in", "at", "on", "today", "tomorrow", "day", "weekday", "weekend", "monday", "thu",
    "mon-fri", "first", "last", "second", "of", "the", "month", "and", ",", "&", "to", "hour", "minutes", "30m",
    "2h", "1h30m", "10s", "9", "18:00", "9:15pm", "noon", "midnight", "am", "pm", "dec", "24", "24th", "2026-12-24",
    "2027", "#3", "3", "x", "a", "an", '"0 9 * * 1-5"', "'", '"', "“", "@daily", "Europe/Berlin", "0", "-1",
    "99999999999", "1.5", "29", "feb", "L", "#", "!schedule", "daily", "hourly", "weekly", "monthly", "yearly",
    "nightly", "weekdays", "mondays", "morning", "evening", "night", "mornings", "tonight", "this", "next", "other",
    "third", "2nd", "15th", "1st", "year", "week", "days", "past", "half", "quarter", ":30", ":75", "24/12", "12/24",
    "01/02", "0/0", "24.12.", "12/24/26", "2026/12/24", "dateorder", "dmy", "mdy", "page", "each", "in the", "at night",
]
FUZZ = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ_ZONES = st.sampled_from(["UTC", BERLIN, NY])
FUZZ_NOWS = st.sampled_from([NOW, utc(2027, 3, 13, 12), utc(2027, 11, 7, 5, 59, 59), utc(2028, 2, 28, 23, 30)])


def _parse_or_error(text: str, now: datetime, zone: str, order: str | None = None) -> None:
    try:
        command = parse_command(text, now=now, timezone=zone, date_order=order)
    except ChatParseError as error:
        _check_message(error)
        return
    if isinstance(command, Add):
        _check_add_invariants(command, now)
        schedule_spec(command)


@FUZZ
@given(text=st.text(max_size=200), now=FUZZ_NOWS, zone=FUZZ_ZONES)
def test_fuzz_arbitrary_unicode(text: str, now: datetime, zone: str) -> None:
    _parse_or_error(text, now, zone)
    _parse_or_error("add " + text, now, zone)


@FUZZ
@given(text=st.text(alphabet=st.characters(codec="utf-8", categories=["Cc", "Cf", "Zs", "Zl", "Zp", "Po"]),
                    max_size=100))
def test_fuzz_control_characters(text: str) -> None:
    _parse_or_error(text, NOW, "UTC")
    _parse_or_error(f"add every day at 9 as {text} say {text}", NOW, "UTC")


@settings(max_examples=15, deadline=None, database=None)
@given(text=st.text(min_size=2000, max_size=10_000), head=st.sampled_from(["", "add ", "add every day at 9 say "]))
def test_fuzz_long_text(text: str, head: str) -> None:
    _parse_or_error(head + text, NOW, "UTC")


grammar_mix = st.lists(
    st.one_of(
        st.sampled_from(GRAMMAR_WORDS),
        st.integers(-5, 100).map(str),
        st.builds("{}{}{:02d}{}".format, st.integers(0, 30), st.sampled_from(":."), st.integers(0, 70),
                  st.sampled_from(["", "am", "pm"])),
        st.text(max_size=4),
    ),
    max_size=14,
).map(" ".join)


@FUZZ
@given(words=grammar_mix, head=st.sampled_from(["", "add ", "add every ", "add on ", "add in ", "add at ", "add daily ",
                                                "add every other ", "add tonight ", "add next ", "add every year on "]),
       now=FUZZ_NOWS, zone=FUZZ_ZONES, order=st.sampled_from([None, "dmy", "mdy"]))
def test_fuzz_grammar_words(words: str, head: str, now: datetime, zone: str, order: str | None) -> None:
    _parse_or_error(head + words, now, zone, order)
    _parse_or_error(head + words + " say hi", now, zone, order)


clocks = st.one_of(
    st.builds("{}:{:02d}".format, st.integers(0, 23), st.integers(0, 59)),
    st.builds("{}:{:02d}{}".format, st.integers(1, 12), st.integers(0, 59), st.sampled_from(["am", "pm", " pm"])),
    st.sampled_from(["noon", "midnight", "9", "21"]),
)
day_lists = st.lists(st.sampled_from(["monday", "tue", "wednesdays", "thu", "fri", "sat", "sunday", "weekday",
                                      "weekend", "mon-fri"]), min_size=1, max_size=3).map(" and ".join)
repeating = st.one_of(
    st.builds("every {} at {}".format, day_lists, clocks),
    st.builds("{} at {}".format, st.sampled_from(["daily", "weekdays", "mondays", "weekends", "mon-fri"]), clocks),
    st.builds("at {} {}".format, clocks, st.sampled_from(["every day", "daily", "on weekdays", "every monday"])),
    # without "at", a bare number could be the n of "n times": only times that can't be
    st.builds("every {} {}".format, st.sampled_from(["thursday", "day", "weekday"]),
              clocks.filter(lambda c: not c.isdigit())),
    st.builds("every {} days at {}".format, st.integers(2, 30), clocks),
    st.builds("every other {} at {}".format, st.sampled_from(["day", "monday", "week on friday"]), clocks),
    st.builds("every {} hours at :{:02d}".format, st.sampled_from([1, 2, 3, 4, 6, 8, 12]), st.integers(0, 59)),
    st.builds("every {} at {}".format, st.sampled_from(["1st of the month", "15th", "last day of the month"]), clocks),
    st.builds("every year on {} {}".format, st.sampled_from(["jan", "june", "dec"]), st.integers(1, 28)),
    st.builds("every {} at {}".format, st.sampled_from(["morning", "evening", "night"]),
              st.sampled_from(["8", "10", "11:30"])),
    st.builds("every {} {} at {}".format, st.sampled_from(["first", "2nd", "last"]), st.sampled_from(["mon", "friday"]),
              clocks),
    st.builds("every {} {}".format, st.integers(1, 300), st.sampled_from(["seconds", "minutes", "hours", "days"])),
    st.builds("every month on the {}th at {}".format, st.integers(4, 28), clocks),
)
one_time = st.one_of(
    st.builds("in {} {}".format, st.integers(1, 300), st.sampled_from(["seconds", "minutes", "hours", "days"])),
    st.builds("next {} at {}".format, st.sampled_from(["monday", "fri", "sunday"]), clocks),
    st.builds("on {}/{} at {}".format, st.integers(13, 28), st.integers(1, 12), clocks),
    st.builds("on {}/{}".format, st.integers(1, 12), st.integers(13, 28)),
    st.builds("on the {}th at {}".format, st.integers(4, 28), clocks),
    st.builds("{} {}".format, st.sampled_from(["tomorrow morning at", "tomorrow evening at"]),
              st.sampled_from(["8", "9:30", "10"])),
    st.builds("at {}".format, clocks),
    st.builds("tomorrow at {}".format, clocks),
    st.builds("on {} {} at {}".format, st.sampled_from(["jan", "march", "nov", "dec"]), st.integers(1, 28), clocks),
    st.builds("on {} at {}".format, st.sampled_from(["monday", "sunday", "sat"]), clocks),
)
names = st.from_regex(r"[a-z][a-z0-9_-]{0,20}", fullmatch=True)
messages = st.text(st.characters(exclude_categories=["Cc", "Cs"]), max_size=50)


@FUZZ
@given(data=st.data(), now=FUZZ_NOWS, zone=st.sampled_from(["UTC", BERLIN, NY, "Australia/Lord_Howe", "Asia/Kathmandu"]))
def test_fuzz_valid_commands_parse(data: st.DataObject, now: datetime, zone: str) -> None:
    """Generated well-formed commands always parse, and the result keeps every invariant."""
    is_repeating = data.draw(st.booleans())
    parts = [data.draw(repeating if is_repeating else one_time)]
    if data.draw(st.booleans()):
        parts.append(f"as {data.draw(names)}")
    if is_repeating and data.draw(st.booleans()):
        parts.append(f"times {data.draw(st.integers(1, 1000))}")
    if data.draw(st.booleans()):
        parts.append(f"until {data.draw(st.sampled_from(['jan', 'jun', 'dec']))} {data.draw(st.integers(1, 28))} 2030")
    order = data.draw(st.permutations(parts[1:]))
    text = " ".join(["add", parts[0], *order, "say", data.draw(messages), "!"])
    command = parse_command(text, now=now, timezone=zone)
    assert isinstance(command, Add)
    _check_add_invariants(command, now)


def test_last_and_first_weekday_of_the_month_fire_where_promised() -> None:
    """croniter's `L5` and `1#1`, through the project's next_occurrence, in a DST zone."""
    for text, expected in [
        ("add every last friday of the month at 17:00 say x",
         [utc(2026, 11, 27, 16), utc(2026, 12, 25, 16), utc(2027, 1, 29, 16), utc(2027, 2, 26, 16)]),
        ("add every first monday of the month at 19:00 say x",
         [utc(2026, 12, 7, 18), utc(2027, 1, 4, 18), utc(2027, 2, 1, 18), utc(2027, 3, 1, 18)]),
    ]:
        command = parse_command(text, now=NOW, timezone=BERLIN)
        assert isinstance(command, Add)
        rule = TimeRule(ScheduleType.CRON, BERLIN, cron_expression=command.when.cron_expression)
        assert occurrences(rule, NOW, 4) == expected


def test_dst_gap_time_is_first_instant_after_the_gap() -> None:
    """`at 2:30` on the spring-forward morning (New York) runs at 03:00 EDT, as cron does."""
    now = utc(2027, 3, 14, 6, 0)  # 01:00 EST
    command = parse_command("add at 2:30 say x", now=now, timezone=NY)
    assert isinstance(command, Add)
    assert command.when.scheduled_time == utc(2027, 3, 14, 7, 0)
    assert command.when.scheduled_time - now == timedelta(hours=1)
