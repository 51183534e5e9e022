"""The `<when>` part of `!schedule add`, and `until <date>`. Pure: `now` and the zone are given.

Recurring (cron or interval):
    "0 9 * * 1-5"  '30 0 9 * * *'     quoted cron, 5 fields or 6 with seconds first; @daily etc.
    every 30m | every 2 hours | every 10s | every hour | every 1h30m | every 1.5 hours
    every day at 18:00            every weekday at 9am        every weekend at 10
    every monday,thursday at 20:30 | every mon and thu at 8pm | every mon-fri at 7:30
    every first monday of the month at 19:00 | every last friday of the month at 17:00
    every month on the 15th at 12:00 | every month on the last day at 9
    several times of day: every day at 9 and 21 | every day at 9:00, 9:30
One time:
    in 10 minutes | in 2h | in 1h30m | in an hour
    at 18:30 (today, or tomorrow when 18:30 has passed) | today at 18:30
    tomorrow at 9 | tomorrow 9am | at 9 tomorrow
    on 2026-12-24 at 18:00 | on dec 24 at 6pm | on 24 december 18:00 | on friday at 20:00
Clock times: 18:00, 9, 9am, 9:15pm, 9 pm, 18.30, 18:00:30, noon, midnight.

Rules:
* `every N <unit>`: N minutes dividing 60 -> `*/N * * * *`; N hours dividing 24 -> `0 */N * * *`
  (24 hours -> midnight, `0 0 * * *`); N seconds dividing 60 -> `*/N * * * * *` (seconds first);
  anything else (90 minutes, 7 minutes, 2 days, 1 week) is an interval from the creation second.
  `every day`/`every monday` need `at <time>`; `every week` asks for a day.
* Wall times are read in the community zone. A time that does not exist (spring forward) means
  the first instant after the gap; a time that happens twice (fall back) means the first one.
* A date without a year is its next occurrence; `on friday` is the next Friday whose time is
  still ahead (today included).
* `until <date>` is the end of that day (23:59:59) in the zone; `until <date> at <time>` and
  `until <time>` are exact.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from ..scheduling.cron import CronError, parse_cron
from ..scheduling.describe import describe
from ..scheduling.types import ScheduleType, TimeRule
from ..scheduling.zones import wall_to_utc
from .commands import When
from .errors import ChatParseError, fail, show, unknown
from .tokens import Token, TokenStream

MAX_DURATION_SECONDS = 366 * 24 * 3600
MAX_YEAR = 2999
_WEEK = 7 * 24 * 3600
_DAY = 24 * 3600

_UNITS: dict[str, int] = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), _DAY),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), _WEEK),
}
_DAY_FULL = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")  # cron 0-6
_DAY_NAMES: dict[str, int] = {
    **{name: n for n, name in enumerate(_DAY_FULL)},
    **{name + "s": n for n, name in enumerate(_DAY_FULL)},
    **{"sun": 0, "mon": 1, "tue": 2, "tues": 2, "wed": 3, "weds": 3, "thu": 4, "thur": 4, "thurs": 4},
    **{"fri": 5, "sat": 6},
}
_ALL_DAYS = frozenset(range(7))
_WEEKDAYS = frozenset(range(1, 6))
_WEEKEND = frozenset({0, 6})
_DAY_GROUPS: dict[str, frozenset[int]] = {
    "day": _ALL_DAYS,
    "days": _ALL_DAYS,
    "weekday": _WEEKDAYS,
    "weekdays": _WEEKDAYS,
    "weekend": _WEEKEND,
    "weekends": _WEEKEND,
}
_MONTHS: dict[str, int] = {}
for _n, _name in enumerate(
    ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
     "november", "december"),
    start=1,
):
    _MONTHS[_name] = _MONTHS[_name[:3]] = _n
_MONTHS["sept"] = 9
_ORDINALS: dict[str, int] = {
    "first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4, "last": -1,
}
_MERIDIEM = {"am": "am", "a.m.": "am", "a.m": "am", "pm": "pm", "p.m.": "pm", "p.m": "pm"}
_LIST_SEPARATORS = (",", "and", "&")
_RANGE_WORDS = ("to", "through", "thru", "-")

_CLOCK = re.compile(r"(\d{1,2})(?:[:.](\d{2}))?(?::(\d{2}))?(am|pm|a\.m\.?|p\.m\.?)?")
_NUMBER = re.compile(r"\d{1,9}(?:\.\d{1,6})?")
_COMPACT = re.compile(r"(?:\d{1,9}(?:\.\d{1,6})?[a-z]+)+")
_COMPACT_PART = re.compile(r"(\d{1,9}(?:\.\d{1,6})?)([a-z]+)")
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_DAY_OF_MONTH = re.compile(r"(\d{1,2})(st|nd|rd|th)?")
_YEAR = re.compile(r"\d{4}")
_CRON_LIKE = re.compile(r"[\d*/,\-?LW#]+")

WHEN_WORDS = ("every", "in", "at", "on", "today", "tomorrow")
DATE_WORDS = (*_MONTHS, *_DAY_NAMES, "today", "tomorrow")


@dataclass(frozen=True, slots=True)
class Ctx:
    """The instant and the community zone every time in a command is read against."""

    now: datetime  # aware UTC
    zone: ZoneInfo
    zone_name: str

    @property
    def local_now(self) -> datetime:
        return self.now.astimezone(self.zone)


@dataclass(frozen=True, slots=True, order=True)
class TimeOfDay:
    hour: int
    minute: int
    second: int = 0

    @property
    def text(self) -> str:
        return f"{self.hour:02d}:{self.minute:02d}" + (f":{self.second:02d}" if self.second else "")

    def as_time(self) -> time:
        return time(self.hour, self.minute, self.second)


@dataclass(frozen=True, slots=True)
class DateRef:
    """A day as the user named it, before it is pinned to a year or a week."""

    kind: str  # "date" | "month_day" | "weekday" | "today" | "tomorrow"
    shown: str  # how messages name it: "Thu 24 Dec 2026", "24 Dec", "Friday", "today"
    year: int = 0
    month: int = 0
    day: int = 0
    weekday: int = 0  # cron numbering, Sunday = 0


_END_OF_DAY = TimeOfDay(23, 59, 59)  # `until <date>` means the end of that day


# ---------------------------------------------------------------------------------------------
# Entry points


def parse_when(stream: TokenStream, ctx: Ctx) -> When:
    """Read one `<when>` from `stream`; stops at the first word that is not part of it."""
    token = stream.peek()
    if token is None:
        raise fail("When should it run?", "add")
    if token.quoted or token.text.startswith("@"):
        return _quoted_cron(stream, ctx)
    word = token.low
    if word == "every":
        return _every(stream, ctx)
    if word == "in":
        return _in(stream, ctx)
    if word in ("at", "on", "today", "tomorrow") or _ISO_DATE.fullmatch(word):
        return _one_time(stream, ctx)
    if word in ("say", "run"):
        raise fail(f"When should it run? Put the time before {show(token.text)}.", "add", token.text)
    if _CRON_LIKE.fullmatch(token.text):
        raise fail(f"Put a cron expression in quotes, starting at {show(token.text)}.", "cron", token.text)
    raise unknown(token.text, "add", WHEN_WORDS)


def parse_pause_end(stream: TokenStream, ctx: Ctx) -> datetime | None:
    """`for <duration>` or `until <when>` after a paused schedule's name, or nothing: the instant the
    pause ends (None: it does not end by itself)."""
    if stream.accept("for"):
        return ctx.now + timedelta(seconds=_duration(stream, "pause"))
    if stream.accept("until"):
        return parse_until(stream, ctx)
    return None


def parse_until(stream: TokenStream, ctx: Ctx) -> datetime:
    """`until <date> [at <time>]` or `until <time>` (after the word `until`).

    An aware UTC instant, always after now: a date that has passed is an error, a time of day
    that has passed today means tomorrow.
    """
    first = stream.peek()
    if first is None:
        raise fail("Until when?", "until")
    if _is_clock(stream, 0) and stream.peek_word(1) not in ("of", *_MONTHS):
        return _today_or_tomorrow(_clock(stream, "until"), ctx)
    ref = _date(stream, "until")
    clock = _clock(stream, "until") if stream.accept("at") else _optional_clock(stream)
    if clock is None:
        return _first_future(ref, _END_OF_DAY, ctx, "until", first)
    return _first_future(ref, clock, ctx, "until", first)


# ---------------------------------------------------------------------------------------------
# Cron in quotes


def _quoted_cron(stream: TokenStream, ctx: Ctx) -> When:
    token = stream.next()
    assert token is not None
    expression = _valid_cron(token.text, token.text)
    rule = TimeRule(ScheduleType.CRON, "UTC", cron_expression=expression)
    description = describe(rule)
    text = description[:1].lower() + description[1:]
    return _cron_when(expression, ctx, text)


def _valid_cron(expression: str, word: str) -> str:
    """The normalised expression, or a ChatParseError carrying croniter's reason."""
    try:
        return parse_cron(expression).expression
    except CronError as exc:
        raise fail(f"The cron {show(expression)} {exc}.", "cron", word) from None
    except Exception:  # croniter rejects some inputs with errors of its own
        raise fail(f"The cron {show(expression)} is not valid.", "cron", word) from None


def _cron_when(expression: str, ctx: Ctx, text: str) -> When:
    return When(ScheduleType.CRON.value, expression, None, None, ctx.zone_name, text)


# ---------------------------------------------------------------------------------------------
# every ...


def _every(stream: TokenStream, ctx: Ctx) -> When:
    stream.next()  # "every"
    word = stream.peek_word()
    if word is None:
        token = stream.peek()
        raise fail("Every what?", "every", token.text if token else None)
    if word in _ORDINALS and stream.peek_word(1) in _DAY_NAMES:
        return _every_nth_weekday(stream, ctx)
    if word == "month":
        return _every_month(stream, ctx)
    if _UNITS.get(word) == _WEEK:
        raise fail("Which day of the week? Name it, like every monday at 20:00.", "every", word)
    if _day_item(word) is not None:
        return _every_days(stream, ctx)
    return _every_duration(stream, ctx)


def _every_duration(stream: TokenStream, ctx: Ctx) -> When:
    """every 30m / every 2 hours / every 10s / every hour / every 90 minutes."""
    first = stream.peek()
    seconds = _duration(stream, "interval", bare_unit=True)
    if stream.peek_word() == "at":
        raise fail(
            f"A time of day does not go with every {_duration_text(seconds)}; use every day at ...",
            "every", first.text if first else None,
        )
    cron = _cron_for_duration(seconds)
    if cron is None:
        return When(ScheduleType.INTERVAL.value, None, seconds, None, ctx.zone_name, _every_text(seconds))
    return _cron_when(_valid_cron(cron, cron), ctx, _every_text(seconds))


def _every_text(seconds: int) -> str:
    """'every hour', 'every 30 minutes', 'every 1 hour 30 minutes'; a day is midnight's cron."""
    if seconds == _DAY:
        return "every day at 00:00"
    text = _duration_text(seconds)
    return "every " + (text.removeprefix("1 ") if text.count(" ") == 1 else text)


def _cron_for_duration(seconds: int) -> str | None:
    """The clock-aligned cron for a period that divides the hour or the day, else None."""
    hours, minutes = divmod(seconds, 3600)
    if minutes == 0 and hours and 24 % hours == 0:
        return {1: "0 * * * *", 24: "0 0 * * *"}.get(hours, f"0 */{hours} * * *")
    if seconds % 60 == 0 and 60 % (seconds // 60) == 0:
        return "* * * * *" if seconds == 60 else f"*/{seconds // 60} * * * *"
    if seconds < 60 and 60 % seconds == 0:
        return "* * * * * *" if seconds == 1 else f"*/{seconds} * * * * *"
    return None


def _every_days(stream: TokenStream, ctx: Ctx) -> When:
    """every day / weekday / weekend / monday,thursday / mon-fri ... at <times>."""
    days = _day_set(stream)
    clocks = _required_times(stream, "every")
    text = f"every {_days_text(days)} at {_clocks_text(clocks)}"
    return _cron_when(_calendar_cron(clocks, "*", _dow_field(days)), ctx, text)


def _every_nth_weekday(stream: TokenStream, ctx: Ctx) -> When:
    """every first monday of the month at 19:00 / every last friday of the month at 17:00."""
    ordinal_token, day_token = stream.next(), stream.next()
    assert ordinal_token is not None and day_token is not None
    nth, weekday = _ORDINALS[ordinal_token.low], _DAY_NAMES[day_token.low]
    _of_the_month(stream)
    clocks = _required_times(stream, "every_nth")
    dow = f"L{weekday}" if nth == -1 else f"{weekday}#{nth}"
    ordinal = "last" if nth == -1 else ("first", "second", "third", "fourth")[nth - 1]
    text = f"every {ordinal} {_DAY_FULL[weekday].title()} of the month at {_clocks_text(clocks)}"
    return _cron_when(_calendar_cron(clocks, "*", dow), ctx, text)


def _of_the_month(stream: TokenStream) -> None:
    """Skip 'of the month', 'of every month', 'each month', 'in the month' (all optional)."""
    if stream.accept("of", "in"):
        stream.accept("the", "every", "each")
        if not stream.accept("month"):
            token = stream.peek()
            shown = token.text if token else None
            raise fail(f"I expected {show('of the month')}, not {show(shown or '')}.", "every_nth", shown)
    elif stream.peek_word() in ("each", "every") and stream.peek_word(1) == "month":
        stream.next()
        stream.next()


def _every_month(stream: TokenStream, ctx: Ctx) -> When:
    """every month on the 15th at 12:00 / every month on the last day at 9."""
    stream.next()  # "month"
    stream.accept("on")
    stream.accept("the")
    token = stream.next()
    word = token.low if token and not token.quoted else ""
    if word == "last":
        stream.accept("day")
        dom, dom_text = "L", "the last day"
    else:
        match = _DAY_OF_MONTH.fullmatch(word)
        if match is None or not 1 <= int(match.group(1)) <= 31:
            raise fail(
                f"Which day of the month? {show(token.text) if token else 'Nothing'} is not one (1st-31st or last).",
                "every_month", token.text if token else None,
            )
        day = int(match.group(1))
        dom, dom_text = str(day), f"the {_ordinal_suffix(day)}"
    clocks = _required_times(stream, "every_month")
    text = f"every month on {dom_text} at {_clocks_text(clocks)}"
    return _cron_when(_calendar_cron(clocks, dom, "*"), ctx, text)


def _required_times(stream: TokenStream, example: str) -> list[TimeOfDay]:
    if not stream.accept("at"):
        token = stream.peek()
        raise fail(
            "At what time? Add at <time>" + (f" before {show(token.text)}." if token else "."),
            example, token.text if token else None,
        )
    return _clock_list(stream, example)


def _calendar_cron(clocks: list[TimeOfDay], dom: str, dow: str) -> str:
    """A cron for `clocks` on matching days; the clocks must form an hours x minutes grid."""
    hours = sorted({c.hour for c in clocks})
    minutes = sorted({c.minute for c in clocks})
    seconds = sorted({c.second for c in clocks})
    if len(set(clocks)) != len(hours) * len(minutes) * len(seconds):
        raise fail(
            f"I can't combine {_clocks_text(clocks)} in one schedule; use the same minutes, "
            "or add two schedules.",
            "every",
        )
    fields = [_join(minutes), _join(hours), dom, "*", dow]
    if seconds != [0]:
        fields.insert(0, _join(seconds))
    expression = " ".join(fields)
    return _valid_cron(expression, expression)


def _join(values: list[int]) -> str:
    return ",".join(str(v) for v in values)


# ---------------------------------------------------------------------------------------------
# Days of the week


def _day_set(stream: TokenStream) -> frozenset[int]:
    """monday,thursday / mon and thu / mon-fri / monday to friday / weekday / weekend / day."""
    days: set[int] = set()
    while (word := stream.peek_word()) is not None and (item := _day_item(word)) is not None:
        stream.next()
        days |= _range_tail(stream, item)
        if stream.peek_word() in _LIST_SEPARATORS and _day_item(stream.peek_word(1) or "") is not None:
            stream.next()
    return frozenset(days)


def _range_tail(stream: TokenStream, item: frozenset[int]) -> frozenset[int]:
    """`item`, or the range it starts when ' to friday' / ' - friday' follows a single day."""
    end = _DAY_NAMES.get(stream.peek_word(1) or "")
    if len(item) != 1 or stream.peek_word() not in _RANGE_WORDS or end is None:
        return item
    stream.next()
    stream.next()
    return _day_range(next(iter(item)), end)


def _day_item(word: str) -> frozenset[int] | None:
    """The days one word names: 'monday', 'mon', 'mondays', 'weekday', 'mon-fri'."""
    if word in _DAY_GROUPS:
        return _DAY_GROUPS[word]
    if word in _DAY_NAMES:
        return frozenset({_DAY_NAMES[word]})
    first, dash, last = word.partition("-")
    if dash and first in _DAY_NAMES and last in _DAY_NAMES:
        return _day_range(_DAY_NAMES[first], _DAY_NAMES[last])
    return None


def _day_range(first: int, last: int) -> frozenset[int]:
    """Days from `first` to `last` inclusive, wrapping over the weekend (fri-mon)."""
    return frozenset((first + k) % 7 for k in range((last - first) % 7 + 1))


def _dow_field(days: frozenset[int]) -> str:
    if days == _ALL_DAYS:
        return "*"
    ordered = sorted(days)
    runs: list[list[int]] = []
    for day in ordered:
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) >= 3 else _join(r) for r in runs)


def _days_text(days: frozenset[int]) -> str:
    named = {_ALL_DAYS: "day", _WEEKDAYS: "weekday", _WEEKEND: "weekend"}
    if days in named:
        return named[days]
    names = [_DAY_FULL[d].title() for d in sorted(days, key=lambda d: (d - 1) % 7)]
    return _and_list(names)


def _and_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _ordinal_suffix(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


# ---------------------------------------------------------------------------------------------
# Durations


def _duration(stream: TokenStream, example: str, *, bare_unit: bool = False) -> int:
    """'30m', '2 hours', '1h30m', '1 hour and 30 minutes', 'an hour', '1.5 hours' -> seconds.

    With `bare_unit`, a unit alone counts once ('every hour').
    """
    first = stream.peek()
    total = Fraction(0)
    parts = 0
    while (part := _duration_part(stream, example, bare_unit and parts == 0)) is not None:
        total += part
        parts += 1
        if total > MAX_DURATION_SECONDS:
            raise fail("That is too long; the longest is 366 days.", example, first.text if first else None)
        if stream.peek_word() in (",", "and") and _starts_duration(stream.peek_word(1)):
            stream.next()
    shown = first.text if first else None
    if parts == 0:
        raise _not_a_duration(first, example)
    if total < 1:
        raise fail(f"{show(shown or '')} is too short; the shortest is 1 second.", example, shown)
    if total.denominator != 1:
        raise fail(f"{show(shown or '')} is not a whole number of seconds.", example, shown)
    return int(total)


def _duration_part(stream: TokenStream, example: str, bare_unit: bool) -> Fraction | None:
    word = stream.peek_word()
    if word is None:
        return None
    if _COMPACT.fullmatch(word):
        return _compact_duration(stream, example)
    if _NUMBER.fullmatch(word) or word in ("a", "an"):
        unit = _UNITS.get(stream.peek_word(1) or "")
        if unit is None:
            raise fail(
                f"{show(word)} what? Add a unit: seconds, minutes, hours, days or weeks.", example, word
            )
        stream.next()
        stream.next()
        return (Fraction(1) if word in ("a", "an") else Fraction(word)) * unit
    if bare_unit and word in _UNITS and len(word) > 1:
        stream.next()
        return Fraction(_UNITS[word])
    return None


def _compact_duration(stream: TokenStream, example: str) -> Fraction:
    """'1h30m', '10s', '2h' in one word."""
    token = stream.next()
    assert token is not None
    total = Fraction(0)
    for number, unit in _COMPACT_PART.findall(token.low):
        if unit not in _UNITS:
            raise fail(
                f"I don't know the unit {show(unit)} in {show(token.text)}; use s, m, h, d or w.",
                example, token.text,
            )
        total += Fraction(number) * _UNITS[unit]
    return total


def _starts_duration(word: str | None) -> bool:
    return word is not None and (word in ("a", "an") or word[:1].isdigit())


def _not_a_duration(token: Token | None, example: str) -> ChatParseError:
    if token is None:
        return fail("How long? Add a number and a unit, like 30 minutes.", example)
    return unknown(token.text, example, ("every", "day", "weekday", "weekend", "hour", "minute", *_UNITS, *_DAY_NAMES))


def _duration_text(seconds: int) -> str:
    """'1 hour 30 minutes', '2 weeks', '45 seconds'."""
    if seconds % _WEEK == 0:
        return _plural(seconds // _WEEK, "week")
    parts: list[str] = []
    for size, unit in ((_DAY, "day"), (3600, "hour"), (60, "minute"), (1, "second")):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(_plural(count, unit))
    return " ".join(parts)


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" + ("" if count == 1 else "s")


# ---------------------------------------------------------------------------------------------
# One time


def _in(stream: TokenStream, ctx: Ctx) -> When:
    """in 10 minutes / in 2h / in 1h30m / in an hour."""
    stream.next()  # "in"
    seconds = _duration(stream, "in")
    instant = ctx.now.replace(microsecond=0) + timedelta(seconds=seconds)
    return _one_time_when(instant, ctx, f"in {_duration_text(seconds)}")


def _one_time(stream: TokenStream, ctx: Ctx) -> When:
    """at 18:30 / today at 18:30 / tomorrow at 9 / on dec 24 at 18:00 / at 9 on friday."""
    ref: DateRef | None = None
    clock: TimeOfDay | None = None
    first: Token | None = None
    while (word := stream.peek_word()) is not None:
        if word == "at":
            if clock is not None:
                raise fail("You gave the time twice.", "on", word)
            stream.next()
            clock = _clock(stream, "at")
        elif word in ("on", "today", "tomorrow") or _ISO_DATE.fullmatch(word):
            if ref is not None:
                raise fail("You gave the day twice.", "on", word)
            stream.accept("on")
            first = stream.peek()
            ref = _date(stream, "on")
            if clock is None:
                clock = _optional_clock(stream)
        else:
            break
    if clock is None:
        raise fail("At what time? Add at <time>.", "tomorrow" if ref and ref.kind == "tomorrow" else "on")
    if ref is None:
        instant = _today_or_tomorrow(clock, ctx)
    else:
        instant = _first_future(ref, clock, ctx, "on", first)
    return _one_time_when(instant, ctx, describe_instant(instant, ctx))


def _today_or_tomorrow(clock: TimeOfDay, ctx: Ctx) -> datetime:
    """`clock` today in the zone, or tomorrow when that has passed (or is now)."""
    today = ctx.local_now.date()
    instant = wall_to_utc(datetime.combine(today, clock.as_time()), ctx.zone)
    if instant <= ctx.now:
        instant = wall_to_utc(datetime.combine(today + timedelta(days=1), clock.as_time()), ctx.zone)
    return instant


def _first_future(ref: DateRef, clock: TimeOfDay, ctx: Ctx, example: str, typed: Token | None) -> datetime:
    """The first day `ref` can mean at which `clock` is still ahead of now."""
    for day in _candidate_days(ref, ctx.local_now.date()):
        instant = wall_to_utc(datetime.combine(day, clock.as_time()), ctx.zone)
        if instant > ctx.now:
            return instant
    at = "" if clock == _END_OF_DAY else f" at {clock.text}"
    raise fail(f"{ref.shown}{at} has already passed.", example, typed.text if typed else None)


def _candidate_days(ref: DateRef, today: date) -> Iterator[date]:
    if ref.kind == "today":
        yield today
    elif ref.kind == "tomorrow":
        yield today + timedelta(days=1)
    elif ref.kind == "date":
        yield date(ref.year, ref.month, ref.day)
    elif ref.kind == "weekday":
        python_weekday = (ref.weekday - 1) % 7
        for offset in range(8):
            day = today + timedelta(days=offset)
            if day.weekday() == python_weekday:
                yield day
    else:  # month_day: this year or the next years (29 February needs a leap year)
        for year in range(today.year, today.year + 9):
            if _is_date(year, ref.month, ref.day):
                yield date(year, ref.month, ref.day)


def _one_time_when(instant: datetime, ctx: Ctx, text: str) -> When:
    return When(ScheduleType.ONE_TIME.value, None, None, instant, ctx.zone_name, text)


def describe_instant(instant: datetime, ctx: Ctx) -> str:
    """'today at 18:30', 'tomorrow at 09:00', 'on Thu 24 Dec at 18:00', 'on Fri 1 Jan 2027 at 09:00'."""
    local, today = instant.astimezone(ctx.zone), ctx.local_now.date()
    clock = TimeOfDay(local.hour, local.minute, local.second).text
    if local.date() == today:
        return f"today at {clock}"
    if local.date() == today + timedelta(days=1):
        return f"tomorrow at {clock}"
    year = f" {local.year}" if local.year != today.year else ""
    return f"on {local:%a} {local.day} {local:%b}{year} at {clock}"


# ---------------------------------------------------------------------------------------------
# Dates


def _date(stream: TokenStream, example: str) -> DateRef:
    """2026-12-24 / dec 24 [2026] / 24 december / the 24th of december / friday / today / tomorrow."""
    stream.accept("the")
    token = stream.next()
    if token is None:
        raise fail("Which day?", example)
    word = token.low
    if token.quoted:
        raise unknown(token.text, example, DATE_WORDS)
    if word in ("today", "tomorrow"):
        return DateRef(word, word)
    if (iso := _ISO_DATE.fullmatch(word)) is not None:
        return _exact_date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)), token.text, example)
    if word in _DAY_NAMES:
        return DateRef("weekday", _DAY_FULL[_DAY_NAMES[word]].title(), weekday=_DAY_NAMES[word])
    if word in _MONTHS:
        stream.accept("the")
        return _month_day(_MONTHS[word], _day_of_month(stream, example), stream, example)
    if (match := _DAY_OF_MONTH.fullmatch(word)) is not None:
        stream.accept("of")
        month_token = stream.next()
        if month_token is None or month_token.quoted or month_token.low not in _MONTHS:
            shown = month_token.text if month_token else None
            raise fail(f"Which month? {show(shown or '')} is not one.", example, shown)
        return _month_day(_MONTHS[month_token.low], int(match.group(1)), stream, example)
    raise unknown(token.text, example, DATE_WORDS)


def _day_of_month(stream: TokenStream, example: str) -> int:
    token = stream.next()
    match = _DAY_OF_MONTH.fullmatch(token.low) if token and not token.quoted else None
    if match is None:
        shown = token.text if token else ""
        raise fail(f"Which day of the month? {show(shown)} is not one.", example, shown or None)
    return int(match.group(1))


def _month_day(month: int, day: int, stream: TokenStream, example: str) -> DateRef:
    if not _is_date(2000, month, day):  # 2000 is a leap year: 29 February is a date
        raise fail(f"There is no day {day} in {date(2000, month, 1):%B}.", example, str(day))
    stream.accept(",")
    year_word = stream.peek_word()
    if year_word is not None and _YEAR.fullmatch(year_word):
        stream.next()
        return _exact_date(int(year_word), month, day, f"{day} {date(2000, month, 1):%b} {year_word}", example)
    return DateRef("month_day", f"{day} {date(2000, month, 1):%b}", month=month, day=day)


def _exact_date(year: int, month: int, day: int, word: str, example: str) -> DateRef:
    if not 1900 <= year <= MAX_YEAR:
        raise fail(f"The year in {show(word)} is out of range.", example, word)
    if not _is_date(year, month, day):
        raise fail(f"{show(word)} is not a date.", example, word)
    shown = date(year, month, day)
    return DateRef("date", f"{shown:%a} {day} {shown:%b %Y}", year=year, month=month, day=day)


def _is_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# Clock times


def _clock(stream: TokenStream, example: str) -> TimeOfDay:
    """18:00 / 9 / 9am / 9:15 pm / 18.30 / 18:00:30 / noon / midnight."""
    token = stream.next()
    if token is None:
        raise fail("At what time?", example)
    word = token.low
    if not token.quoted and word in ("noon", "midday"):
        return TimeOfDay(12, 0)
    if not token.quoted and word == "midnight":
        return TimeOfDay(0, 0)
    match = None if token.quoted else _CLOCK.fullmatch(word)
    if match is None:
        raise fail(f"{show(token.text)} is not a time of day; use 18:00, 9am or 9:15pm.", example, token.text)
    hour, minute, second = int(match.group(1)), int(match.group(2) or 0), int(match.group(3) or 0)
    meridiem = _MERIDIEM.get(match.group(4) or "")
    if meridiem is None and stream.peek_word() in _MERIDIEM:
        meridiem = _MERIDIEM[stream.peek_word() or ""]
        stream.next()
    return _checked_clock(hour, minute, second, meridiem, token.text, example)


def _checked_clock(hour: int, minute: int, second: int, meridiem: str | None, word: str, example: str) -> TimeOfDay:
    if meridiem is not None:
        if not 1 <= hour <= 12:
            raise fail(f"{show(word)} is not a time: with am/pm the hour is 1-12.", example, word)
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    if hour > 23 or minute > 59 or second > 59:
        raise fail(f"{show(word)} is not a time of day; use 00:00 to 23:59.", example, word)
    return TimeOfDay(hour, minute, second)


def _is_clock(stream: TokenStream, ahead: int) -> bool:
    """Is the token `ahead` a time of day (and not the number of `3 times`)?"""
    word = stream.peek_word(ahead)
    if word is None or stream.peek_word(ahead + 1) == "times":
        return False
    return word in ("noon", "midday", "midnight") or _CLOCK.fullmatch(word) is not None


def _optional_clock(stream: TokenStream) -> TimeOfDay | None:
    """A time written right after a day, without `at`: 'tomorrow 9am', 'on dec 24 18:00'."""
    return _clock(stream, "on") if _is_clock(stream, 0) else None


def _clock_list(stream: TokenStream, example: str) -> list[TimeOfDay]:
    """9 / 9 and 21 / 9:00, 12:00 and 18:00."""
    clocks = [_clock(stream, example)]
    while stream.peek_word() in _LIST_SEPARATORS and _is_clock(stream, 1):
        stream.next()
        clocks.append(_clock(stream, example))
    return clocks


def _clocks_text(clocks: list[TimeOfDay]) -> str:
    return _and_list([c.text for c in sorted(set(clocks))])
