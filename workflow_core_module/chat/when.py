"""The `<when>` part of `!schedule add`, and `until <date>`. Pure: `now`, the zone and the date order are given.

Recurring (cron, or an interval anchored on a wall time):
    "0 9 * * 1-5"  '30 0 9 * * *'     quoted cron, 5 fields or 6 with seconds first; @daily etc.
    every 30m | every 2 hours | every 10s | every hour | every 1h30m | every 1.5 hours | hourly
    every hour at :30 | every 2 hours at :15 | hourly at half past | every hour on the hour
    every day at 18:00 | daily at 9am | every weekday at 9am | weekdays at 9am | every weekend at 10
    every monday,thursday at 20:30 | every mon and thu at 8pm | every mon-fri at 7:30 | mondays at 9
    every thursday 8pm (no "at") | at 9pm every day | at 8 on weekdays | weekly on monday at 9
    every morning at 8 | every evening at 8 (20:00) | every friday night at 11 | nightly at 2
    every other day at 10:00 | every 2 days at 10:00 | every third day at 9
    every other monday at 19:00 | every 2 weeks on friday at 18:00
    every first monday of the month at 19:00 | every last friday of the month at 17:00
    every month on the 15th at 12:00 | every 1st of the month at 12:00 | every 15th at 9
    on the 1st of every month at 9 | monthly on the last day at 9
    every year on dec 24 [at 18:00] | every dec 24 at 18:00 | yearly on 24/12 at 9
    several times of day: every day at 9 and 21 | every day at 9:00, 9:30
One time:
    in 10 minutes | in 2h | in 1h30m | in an hour
    at 18:30 (today, or tomorrow when 18:30 has passed) | today at 18:30 | 9pm
    tomorrow at 9 | tomorrow 9am | at 9 tomorrow | tomorrow morning at 8
    tonight at 8pm | tonight at 11 (23:00) | this evening at 7
    on friday at 20:00 | friday 8pm | next friday at 17:00 | this friday at 5pm
    on 2026-12-24 at 18:00 | on dec 24 at 6pm | on 24 december 18:00 | on the 1st at 9
    on 24/12 | on 12/24 | on 01/02 (the community's date order) | on 24.12. | on 12/24/2026
Clock times: 18:00, 9, 9am, 9:15pm, 9 pm, 18.30, 18:00:30, noon, midnight, 8 in the evening.

Rules:
* `every N <unit>`: N minutes dividing 60 -> `*/N * * * *`; N hours dividing 24 -> `0 */N * * *`
  (24 hours -> midnight, `0 0 * * *`); N seconds dividing 60 -> `*/N * * * * *` (seconds first);
  anything else (90 minutes, 7 minutes, 2 days, 1 week) is an interval from the creation second.
  `at :MM` (or `half past`, `quarter past`, `on the hour`) sets the minute of an hour-based cron.
* `every N days at <time>` (N >= 2; `every other day`) is an interval of N x 24 h whose first run
  is the next <time> in the zone: cron cannot say it (`*/2` in the day field restarts each month,
  so the 31st and the 1st both run). `every N weeks on <day> at <time>` likewise, from the next
  such day. Intervals are exact seconds, so across a daylight-saving change the wall time moves
  by the change (10:00 becomes 11:00 until the clocks change back); `When.note` says so.
  `every 7 days at <time>` is the weekly cron on that day, which keeps its wall time.
* Parts of the day: with `morning` (00-11), `afternoon` (12-18), `evening` (16-23) or `night`
  (17-05), a time without am/pm is read in that part (`every evening at 8` is 20:00); a time
  outside it is refused. At night, hours before 06:00 belong to the next day (`friday night
  at 1` is Saturday 01:00). `every morning` without a time asks for one.
* A day without a time of day (a one-time day, or a yearly date) means 09:00 that day, and
  `When.note` says so; `today`, `tonight` and parts of the day need a time. Anything repeating
  more often than yearly needs its time too.
* A numeric date: `24/12` and `12/24` are what they must be; when both numbers could be the
  month (`01/02`) the community's date order decides (see
  :func:`~workflow_core_module.scheduling.community.default_date_order`), and without one the
  parser asks back. `24.12.` (dots) is always day first, `2026/12/24` year first.
* Wall times are read in the community zone. A time that does not exist (spring forward) means
  the first instant after the gap; a time that happens twice (fall back) means the first one.
* A date without a year is its next occurrence; `on friday` is the next Friday whose time is
  still ahead (today included); `next friday` is the first Friday after today; `on the 1st` is
  the next 1st of a month whose time is ahead.
* `until <date>` is the end of that day (23:59:59) in the zone; `until <date> at <time>` and
  `until <time>` are exact.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
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
_SINGLE_DAYS: dict[str, int] = {
    **{name: n for n, name in enumerate(_DAY_FULL)},
    **{"sun": 0, "mon": 1, "tue": 2, "tues": 2, "wed": 3, "weds": 3, "thu": 4, "thur": 4, "thurs": 4},
    **{"fri": 5, "sat": 6},
}
_PLURAL_DAYS: dict[str, int] = {name + "s": n for n, name in enumerate(_DAY_FULL)}
_DAY_NAMES: dict[str, int] = {**_SINGLE_DAYS, **_PLURAL_DAYS}
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
_COUNTS: dict[str, int] = {"other": 2, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6}
_MERIDIEM = {"am": "am", "a.m.": "am", "a.m": "am", "pm": "pm", "p.m.": "pm", "p.m": "pm"}
_LIST_SEPARATORS = (",", "and", "&")
_RANGE_WORDS = ("to", "through", "thru", "-")
# Parts of the day, and the hours a time said in them may take (night runs past midnight).
_PERIOD_HOURS: dict[str, frozenset[int]] = {
    "morning": frozenset(range(0, 12)),
    "afternoon": frozenset(range(12, 19)),
    "evening": frozenset(range(16, 24)),
    "night": frozenset([*range(17, 24), *range(0, 6)]),
}
_PERIOD_PHRASES = {"morning": "in the morning", "afternoon": "in the afternoon", "evening": "in the evening",
                   "night": "at night"}
_PERIODS: dict[str, str] = {**{p: p for p in _PERIOD_HOURS}, **{p + "s": p for p in _PERIOD_HOURS}}
_NEXT_DAY_BEFORE = 6  # at night, a time before 06:00 belongs to the next day
_REPEAT_WORDS = ("daily", "nightly", "hourly", "weekly", "monthly", "yearly", "annually")
DEFAULT_TIME_NOTE = "No time was given, so 09:00."

_CLOCK = re.compile(r"(\d{1,2})(?:[:.](\d{2}))?(?::(\d{2}))?(am|pm|a\.m\.?|p\.m\.?)?")
_NUMBER = re.compile(r"\d{1,9}(?:\.\d{1,6})?")
_COMPACT = re.compile(r"(?:\d{1,9}(?:\.\d{1,6})?[a-z]+)+")
_COMPACT_PART = re.compile(r"(\d{1,9}(?:\.\d{1,6})?)([a-z]+)")
_ISO_DATE = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})")
_SLASH_DATE = re.compile(r"(\d{1,2})/(\d{1,2})(?:/(\d{4}|\d{2}))?")
_DOTTED_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2})?")
_DAY_OF_MONTH = re.compile(r"(\d{1,2})(st|nd|rd|th)?")
_NTH = re.compile(r"(\d{1,2})(st|nd|rd|th)")
_MINUTE_MARK = re.compile(r":(\d{2})")
_YEAR = re.compile(r"\d{4}")
_CRON_LIKE = re.compile(r"[\d*/,\-?LW#]+")

WHEN_WORDS = ("every", "in", "at", "on", "today", "tomorrow", "tonight", "next", "daily", "weekdays")
DATE_WORDS = (*_MONTHS, *_SINGLE_DAYS, "today", "tomorrow", "tonight", "next")


@dataclass(frozen=True, slots=True)
class Ctx:
    """The instant, the community zone and date order every time in a command is read against."""

    now: datetime  # aware UTC
    zone: ZoneInfo
    zone_name: str
    date_order: str | None = None  # "dmy" | "mdy" | None: ask when a date reads both ways

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


_DEFAULT_TIME = TimeOfDay(9, 0)


@dataclass(frozen=True, slots=True)
class Said:
    """A time of day as typed: `bare` when it could be either half of the day (`8`, `8:30`, not
    `8pm`, `08:00` or `20:00`), so a part of the day may move it (`every evening at 8`)."""

    time: TimeOfDay
    bare: bool
    word: str


@dataclass(frozen=True, slots=True)
class DateRef:
    """A day as the user named it, before it is pinned to a year, a month or a week."""

    kind: str  # "date" | "month_day" | "day_of_month" | "weekday" | "next_weekday" | "today" | "tomorrow"
    shown: str  # how messages name it: "Thu 24 Dec 2026", "24 Dec", "Friday", "today", "the 1st"
    year: int = 0
    month: int = 0
    day: int = 0
    weekday: int = 0  # cron numbering, Sunday = 0
    every_month: bool = False  # "the 1st of every month": a monthly schedule, not a day


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
    if word in ("every", "each"):
        stream.next()
        return _every(stream, ctx, None)
    if word in _REPEAT_WORDS:
        return _repeat_word(stream, ctx, None)
    if _repeating_days_word(word):
        return _every_days(stream, ctx, None)
    if word in _PERIODS and word != _PERIODS[word]:  # mornings at 8
        stream.next()
        return _days_at(stream, ctx, _ALL_DAYS, _PERIODS[word], None)
    if word == "in":
        return _in(stream, ctx)
    if _starts_one_time(stream):
        return _one_time(stream, ctx)
    if word in ("say", "run"):
        raise fail(f"When should it run? Put the time before {show(token.text)}.", "add", token.text)
    if word in ("next", "this"):
        raise fail(f"{word.capitalize()} what? Name the day, like next friday at 17:00.", "on", token.text)
    if word in _PERIODS:
        raise fail(f"Which {word}? Say every {word} at <time>, or tomorrow {word} at <time>.", "morning", token.text)
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
    ref = _date(stream, ctx, "until")
    if ref.every_month:
        raise fail("until needs one day, not every month.", "until", first.text)
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


def _cron_when(expression: str, ctx: Ctx, text: str, note: str | None = None) -> When:
    return When(ScheduleType.CRON.value, expression, None, None, ctx.zone_name, text, note=note)


# ---------------------------------------------------------------------------------------------
# every ... (and its short forms: daily, weekdays, mondays, at 9 every day)


def _every(stream: TokenStream, ctx: Ctx, said: list[Said] | None) -> When:
    """After `every` (or `each`); `said` holds times given before it (`at 9pm every day`)."""
    word = stream.peek_word()
    if word is None:
        token = stream.peek()
        raise fail("Every what?", "every", token.text if token else None)
    after = stream.peek_word(1)
    if word == "other" and after is not None and (after in _SINGLE_DAYS or after in ("week", "weeks")):
        stream.next()
        stream.accept("week", "weeks")
        return _every_weeks(stream, ctx, said, 2, stream.peek())
    if word == "other" and (after is None or after not in _UNITS):
        raise fail("Every other what? Say every other day at 10:00, or every other monday at 19:00.", "every_other",
                   word)
    count = _count_word(word)
    if count is not None and after is not None and after in _UNITS and len(after) > 1 and not (
            _UNITS[after] == _DAY and stream.peek_word(2) in ("of", "in")):
        first = stream.next()
        stream.next()
        return _after_duration(stream, ctx, count * _UNITS[after], said, first)
    if word in _ORDINALS and after in _DAY_NAMES:
        return _every_nth_weekday(stream, ctx, said)
    if _day_of_month_word(word) is not None and after not in _DAY_NAMES:
        return _every_day_of_month(stream, ctx, said)
    if word == "month":
        stream.next()
        return _every_month(stream, ctx, said)
    if word == "year":
        stream.next()
        return _every_year(stream, ctx, said)
    if _UNITS.get(word) == _WEEK and word != "w":
        stream.next()
        if stream.peek_word() in ("on", *_DAY_NAMES, *_DAY_GROUPS):
            stream.accept("on")
            return _every_days(stream, ctx, said)
        raise fail("Which day of the week? Name it, like every monday at 20:00.", "every", word)
    if word in _PERIODS:
        stream.next()
        return _days_at(stream, ctx, _ALL_DAYS, _PERIODS[word], said)
    if _day_item(word) is not None:
        return _every_days(stream, ctx, said)
    if word in _MONTHS or _numeric_date_shape(word):
        return _yearly(stream, ctx, said)
    return _every_duration(stream, ctx, said)


def _repeat_word(stream: TokenStream, ctx: Ctx, said: list[Said] | None) -> When:
    """daily / nightly / hourly / weekly / monthly / yearly / annually, as `every <unit>`."""
    token = stream.next()
    assert token is not None
    word = token.low
    if word == "daily":
        return _days_at(stream, ctx, _ALL_DAYS, None, said)
    if word == "nightly":
        return _days_at(stream, ctx, _ALL_DAYS, "night", said)
    if word == "hourly":
        return _after_duration(stream, ctx, 3600, said, token)
    if word == "weekly":
        stream.accept("on")
        if _day_item(stream.peek_word() or "") is None:
            raise fail("Which day of the week? Say weekly on monday at 20:00.", "every", word)
        return _every_days(stream, ctx, said)
    if word == "monthly":
        return _every_month(stream, ctx, said)
    return _every_year(stream, ctx, said)


def _every_duration(stream: TokenStream, ctx: Ctx, said: list[Said] | None) -> When:
    """every 30m / every 2 hours / every 10s / every hour / every 90 minutes / every other day."""
    first = stream.peek()
    seconds = _duration(stream, "interval", bare_unit=True)
    return _after_duration(stream, ctx, seconds, said, first)


def _after_duration(stream: TokenStream, ctx: Ctx, seconds: int, said: list[Said] | None,
                    first: Token | None) -> When:
    """What follows `every <duration>`: a time of day for whole days, a minute for hours, or nothing."""
    shown = first.text if first else None
    if seconds % _DAY == 0 and (said is not None or stream.peek_word() in ("at", "on") or _is_clock(stream, 0)):
        if seconds % _WEEK == 0:
            return _every_weeks(stream, ctx, said, seconds // _WEEK, first)
        return _every_n_days(stream, ctx, seconds // _DAY, said, first)
    minute = _minute_mark(stream)
    if minute is not None:
        return _minute_cron(seconds, minute, ctx, shown)
    if said is not None or stream.peek_word() == "at":
        raise fail(
            f"A time of day does not go with every {_duration_text(seconds)}; use every day at ..., "
            "or every hour at :30.",
            "every", shown,
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


def _minute_mark(stream: TokenStream) -> int | None:
    """The minute past the hour after `every <hours>`, consumed: `at :30`, `at half past`, `at a
    quarter past`, `at quarter to`, `at 15 past [the hour]`, `at 20 minutes past`, `on the hour`,
    `on the half hour`. None (nothing consumed) when none follows."""
    words = [stream.peek_word(k) or "" for k in range(6)]
    minute: int | None = None
    used = 0
    if words[0] == "on" and words[1] == "the" and words[2] == "hour":
        minute, used = 0, 3
    elif words[0] == "on" and words[1] == "the" and words[2] in ("half-hour", "half") and (
            words[2] == "half-hour" or words[3] == "hour"):
        minute, used = 30, 3 if words[2] == "half-hour" else 4
    elif words[0] == "at":
        rest = words[1:]
        skip = 1 if rest[0] == "a" else 0
        if (mark := _MINUTE_MARK.fullmatch(rest[0])) is not None:
            minute, used = int(mark.group(1)), 2
        elif rest[skip] in ("half", "quarter") and rest[skip + 1] in ("past", "after", "to", "before"):
            base = 30 if rest[skip] == "half" else 15
            minute = 60 - base if rest[skip + 1] in ("to", "before") else base
            used = 3 + skip
        elif rest[0].isdigit() and len(rest[0]) <= 2:
            unit = 1 if rest[1] in ("m", "min", "mins", "minute", "minutes") else 0
            if rest[1 + unit] in ("past", "after"):
                minute, used = int(rest[0]), 3 + unit
    if minute is None:
        return None
    for _ in range(used):
        stream.next()
    if stream.peek_word() == "the" and stream.peek_word(1) == "hour" and words[used - 1] in ("past", "after", "to",
                                                                                                "before"):
        stream.next()
        stream.next()
    if not 0 <= minute <= 59:
        raise fail(f"An hour has minutes :00 to :59, not :{minute}.", "hourly", f":{minute}")
    return minute


def _minute_cron(seconds: int, minute: int, ctx: Ctx, word: str | None) -> When:
    """`every 2 hours at :15` -> `15 */2 * * *`; `every 15 minutes at :05` -> `5,20,35,50 * * * *`."""
    hours, rest = divmod(seconds, 3600)
    if rest == 0 and hours and 24 % hours == 0:
        hour_field = {1: "*", 24: "0"}.get(hours, f"*/{hours}")
        every = "every hour" if hours == 1 else f"every {hours} hours"
        return _cron_when(_valid_cron(f"{minute} {hour_field} * * *", word or ""), ctx, f"{every} at :{minute:02d}")
    if seconds % 60 == 0 and seconds < 3600 and 60 % (seconds // 60) == 0:
        step = seconds // 60
        start = minute % step
        expression = f"{_join(list(range(start, 60, step)))} * * * *"
        return _cron_when(_valid_cron(expression, word or ""), ctx, f"every {step} minutes from :{start:02d}")
    raise fail(
        f"A minute past the hour goes with every hour, every 2 hours and so on, not every {_duration_text(seconds)}.",
        "hourly", word,
    )


def _every_n_days(stream: TokenStream, ctx: Ctx, days: int, said: list[Said] | None, first: Token | None) -> When:
    """every 2 days at 10:00 / every other day at 10 / every 1 day at 9: an anchored interval."""
    clocks = _required_times(stream, "every_other", said, None)
    if days == 1:
        return _calendar_when(clocks, "*", "*", "*", ctx, f"every day at {_clocks_text(clocks)}")
    clock = _one_clock(clocks, f"every {days} days", first)
    anchor = _grid_start(clock, ctx, _today_or_tomorrow(clock, ctx), 1)
    every = "every other day" if days == 2 else f"every {days} days"
    return _anchored(days * _DAY, anchor, clock, ctx, f"{every} at {clock.text}")


def _every_weeks(stream: TokenStream, ctx: Ctx, said: list[Said] | None, weeks: int, first: Token | None) -> When:
    """every other monday at 19:00 / every 2 weeks on friday at 18:00 / every 7 days at 9; `every
    other week` alone is an interval from now, as `every 2 weeks` is."""
    days = _week_days(stream)
    if days is None and said is None and stream.peek_word() != "at" and not _is_clock(stream, 0):
        seconds = weeks * _WEEK
        return When(ScheduleType.INTERVAL.value, None, seconds, None, ctx.zone_name, _every_text(seconds))
    clocks = _required_times(stream, "every_other", said, None)
    if days is None:
        days = _week_days(stream)
    shown = first.text if first else None
    if weeks == 1:
        if days is None:  # every 7 days at 9: the weekday of the first run
            day = _today_or_tomorrow(clocks[0], ctx).astimezone(ctx.zone)
            days = frozenset({(day.weekday() + 1) % 7})
        text = f"every {_days_text(days)} at {_clocks_text(clocks)}"
        return _calendar_when(clocks, "*", "*", _dow_field(days), ctx, text)
    clock = _one_clock(clocks, f"every {weeks} weeks", first)
    if days is not None and len(days) != 1:
        raise fail(f"Every {weeks} weeks goes with one day; add one schedule per day.", "every_other", shown)
    if days is None:
        anchor = _grid_start(clock, ctx, _today_or_tomorrow(clock, ctx), 7)
        weekday = (anchor.astimezone(ctx.zone).weekday() + 1) % 7
    else:
        weekday = next(iter(days))
        ref = DateRef("weekday", _DAY_FULL[weekday].title(), weekday=weekday)
        anchor = _grid_start(clock, ctx, _first_future(ref, clock, ctx, "every_other", first), 7)
    name = _DAY_FULL[weekday].title()
    text = f"every other {name} at {clock.text}" if weeks == 2 else f"every {weeks} weeks on {name} at {clock.text}"
    return _anchored(weeks * _WEEK, anchor, clock, ctx, text)


def _week_days(stream: TokenStream) -> frozenset[int] | None:
    """`on monday` / `monday` / `on mon and thu` after `every other week`, or None."""
    word = stream.peek_word()
    if word == "on" and _day_item(stream.peek_word(1) or "") is not None:
        stream.next()
        return _day_set(stream)
    if word is not None and word in _DAY_NAMES:
        return _day_set(stream)
    return None


def _one_clock(clocks: list[TimeOfDay], every: str, first: Token | None) -> TimeOfDay:
    if len(clocks) != 1:
        raise fail(f"{every.capitalize()} goes with one time of day; add one schedule per time.", "every_other",
                   first.text if first else None)
    return clocks[0]


def _grid_start(clock: TimeOfDay, ctx: Ctx, first: datetime, step_days: int) -> datetime:
    """The first run of a whole-day interval: `first`, or `step_days` later (and so on) when `clock`
    does not exist that day (spring forward) or exists twice (fall back), so the grid starts on the
    wall time asked for in the offset of the months that follow, not at the end of a gap or in the
    hour that is about to be repeated."""
    day = first.astimezone(ctx.zone).date()
    for _ in range(3):
        wall = datetime.combine(day, clock.as_time())
        instant = wall_to_utc(wall, ctx.zone)
        exists = instant.astimezone(ctx.zone).replace(tzinfo=None) == wall
        twice = wall.replace(tzinfo=ctx.zone, fold=0).utcoffset() != wall.replace(tzinfo=ctx.zone, fold=1).utcoffset()
        if exists and not twice:
            return instant
        day += timedelta(days=step_days)
    return first


def _anchored(seconds: int, anchor: datetime, clock: TimeOfDay, ctx: Ctx, text: str) -> When:
    """An interval of whole days whose grid starts at `anchor` (the next `clock` on the right day)."""
    return When(ScheduleType.INTERVAL.value, None, seconds, None, ctx.zone_name, text, start=anchor,
                note=_drift_note(seconds, anchor, clock, ctx))


def _drift_note(seconds: int, anchor: datetime, clock: TimeOfDay, ctx: Ctx) -> str | None:
    """When a run within the next year falls at another wall time than `clock` (a daylight-saving
    change moves a fixed interval's wall time), say from when and at what time."""
    for k in range(0, 400 * _DAY // seconds + 1):
        local = (anchor + timedelta(seconds=k * seconds)).astimezone(ctx.zone)
        if (local.hour, local.minute, local.second) != (clock.hour, clock.minute, clock.second):
            wall = TimeOfDay(local.hour, local.minute, local.second).text
            return (f"It repeats every {seconds // _DAY} days ({seconds // 3600} hours) exactly, so after the clock "
                    f"change it runs at {wall} from {local:%a} {local.day} {local:%b}.")
    return None


def _every_days(stream: TokenStream, ctx: Ctx, said: list[Said] | None) -> When:
    """every day / weekday / weekend / monday,thursday / mon-fri [morning|evening...] at <times>."""
    days = _day_set(stream)
    period = _PERIODS.get(stream.peek_word() or "")
    if period is not None:
        stream.next()
    return _days_at(stream, ctx, days, period, said)


def _days_at(stream: TokenStream, ctx: Ctx, days: frozenset[int], period: str | None,
             said: list[Said] | None) -> When:
    example = "morning" if period else "add" if days == _ALL_DAYS else "every"
    clocks = _required_times(stream, example, said, period)
    if period == "night" and days != _ALL_DAYS:
        early = {c.hour < _NEXT_DAY_BEFORE for c in clocks}
        if early == {True}:  # friday night at 1 is Saturday 01:00
            days = frozenset((d + 1) % 7 for d in days)
        elif len(early) > 1:
            raise fail(f"I can't combine {_clocks_text(clocks)} at night on named days; add two schedules.", "every")
    text = f"every {_days_text(days)} at {_clocks_text(clocks)}"
    return _calendar_when(clocks, "*", "*", _dow_field(days), ctx, text)


def _every_nth_weekday(stream: TokenStream, ctx: Ctx, said: list[Said] | None) -> When:
    """every first monday of the month at 19:00 / every last friday of the month at 17:00."""
    ordinal_token, day_token = stream.next(), stream.next()
    assert ordinal_token is not None and day_token is not None
    nth, weekday = _ORDINALS[ordinal_token.low], _DAY_NAMES[day_token.low]
    _of_the_month(stream)
    clocks = _required_times(stream, "every_nth", said, None)
    ordinal = "last" if nth == -1 else ("first", "second", "third", "fourth")[nth - 1]
    text = f"every {ordinal} {_DAY_FULL[weekday].title()} of the month at {_clocks_text(clocks)}"
    if any(c.second for c in clocks):  # an RRULE has no seconds here: cron's nth weekday has
        dow = f"L{weekday}" if nth == -1 else f"{weekday}#{nth}"
        return _calendar_when(clocks, "*", "*", dow, ctx, text)
    return _monthly_rrule(clocks, f"{nth}{_RRULE_DAYS[weekday]}", ctx, text)


_RRULE_DAYS = ("SU", "MO", "TU", "WE", "TH", "FR", "SA")  # cron's 0-6


def _monthly_rrule(clocks: list[TimeOfDay], byday: str, ctx: Ctx, text: str) -> When:
    """An RFC 5545 rule for a numbered weekday of every month (FREQ=MONTHLY;BYDAY=2TU) at
    `clocks`, read in the community zone from today (its DTSTART: the start of today there)."""
    hours = sorted({c.hour for c in clocks})
    minutes = sorted({c.minute for c in clocks})
    if len(set(clocks)) != len(hours) * len(minutes):
        raise fail(f"I can't combine {_clocks_text(clocks)} in one schedule; use the same minutes, "
                   "or add two schedules.", "every")
    rule = f"FREQ=MONTHLY;BYDAY={byday};BYHOUR={_join(hours)};BYMINUTE={_join(minutes)}"
    start = wall_to_utc(datetime.combine(ctx.local_now.date(), time()), ctx.zone)
    return When(ScheduleType.RRULE.value, None, None, None, ctx.zone_name, text, start=start, rrule=rule)


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


def _count_word(word: str) -> int | None:
    """How many a word before a unit counts: 'other' and 'second' 2, 'third' 3, '5th' 5 (every
    third day); 'first' and 'last' count nothing."""
    if word in _COUNTS:
        return _COUNTS[word]
    match = _NTH.fullmatch(word)
    return int(match.group(1)) if match is not None and int(match.group(1)) >= 2 else None


def _day_of_month_word(word: str) -> int | None:
    """The day of the month a word after `every` names: '1st', '15th', 'first' (1), 'last' (-1)."""
    if word in ("first", "last"):
        return _ORDINALS[word]
    match = _NTH.fullmatch(word)
    return int(match.group(1)) if match is not None else None


def _every_day_of_month(stream: TokenStream, ctx: Ctx, said: list[Said] | None) -> When:
    """every 1st of the month at 12:00 / every 15th at 9 / every last day of the month at 9;
    with a month after it (every 24th of december at 9) it is yearly."""
    token = stream.next()
    assert token is not None
    day = _day_of_month_word(token.low)
    assert day is not None
    stream.accept("day")
    if stream.peek_word() in ("of", "in") and stream.peek_word(1) in _MONTHS:
        stream.next()
    if stream.peek_word() in _MONTHS:
        if day == -1:
            raise fail("Which day of that month? Name it, like every year on dec 24.", "yearly", token.text)
        month_token = stream.next()
        assert month_token is not None
        ref = _month_day(_MONTHS[month_token.low], day, stream, "yearly")
        return _yearly_on(stream, ctx, ref, said, token)
    _of_the_month(stream)
    return _monthly_on(stream, ctx, day, said, token)


def _every_month(stream: TokenStream, ctx: Ctx, said: list[Said] | None) -> When:
    """(after `month` or `monthly`) on the 15th at 12:00 / on the last day at 9."""
    stream.accept("on")
    stream.accept("the")
    token = stream.next()
    word = token.low if token and not token.quoted else ""
    if word == "last":
        stream.accept("day")
        return _monthly_on(stream, ctx, -1, said, token)
    match = _DAY_OF_MONTH.fullmatch(word) or _NTH.fullmatch(word)
    if match is None and word == "first":
        return _monthly_on(stream, ctx, 1, said, token)
    if match is None or not 1 <= int(match.group(1)) <= 31:
        raise fail(
            f"Which day of the month? {show(token.text) if token else 'Nothing'} is not one (1st-31st or last).",
            "every_month", token.text if token else None,
        )
    return _monthly_on(stream, ctx, int(match.group(1)), said, token)


def _monthly_on(stream: TokenStream, ctx: Ctx, day: int, said: list[Said] | None, token: Token | None) -> When:
    if not 1 <= day <= 31 and day != -1:
        shown = token.text if token else None
        raise fail(f"Which day of the month? {show(shown or '')} is not one (1st-31st or last).", "every_month", shown)
    clocks = _required_times(stream, "every_month", said, None)
    dom, dom_text = ("L", "the last day") if day == -1 else (str(day), f"the {_ordinal_suffix(day)}")
    return _calendar_when(clocks, dom, "*", "*", ctx, f"every month on {dom_text} at {_clocks_text(clocks)}")


def _every_year(stream: TokenStream, ctx: Ctx, said: list[Said] | None) -> When:
    """(after `year`, `yearly` or `annually`) on dec 24 [at 18:00]."""
    stream.accept("on")
    if stream.at_end() or stream.peek_word() in ("at", "say", "run"):
        raise fail("On which day of the year? Say every year on dec 24.", "yearly")
    return _yearly(stream, ctx, said)


def _yearly(stream: TokenStream, ctx: Ctx, said: list[Said] | None) -> When:
    first = stream.peek()
    ref = _date(stream, ctx, "yearly")
    if ref.kind != "month_day":
        shown = first.text if first else None
        raise fail(f"Every year goes with a day and a month, like dec 24, not {show(ref.shown)}.", "yearly", shown)
    return _yearly_on(stream, ctx, ref, said, first)


def _yearly_on(stream: TokenStream, ctx: Ctx, ref: DateRef, said: list[Said] | None, first: Token | None) -> When:
    clocks = _times(stream, "yearly", said, None)
    note = None
    if clocks is None:
        clocks, note = [_DEFAULT_TIME], DEFAULT_TIME_NOTE
    text = f"every year on {ref.shown} at {_clocks_text(clocks)}"
    return _calendar_when(clocks, str(ref.day), str(ref.month), "*", ctx, text, note)


def _required_times(stream: TokenStream, example: str, said: list[Said] | None, period: str | None) -> list[TimeOfDay]:
    clocks = _times(stream, example, said, period)
    if clocks is None:
        token = stream.peek()
        part = f" {_PERIOD_PHRASES[period]}" if period else ""
        raise fail(
            f"At what time{part}? Add at <time>" + (f" before {show(token.text)}." if token else "."),
            example, token.text if token else None,
        )
    return clocks


def _times(stream: TokenStream, example: str, said: list[Said] | None, period: str | None) -> list[TimeOfDay] | None:
    """The times of day: those said before (`at 9 every day`), else `at <times>` or `<times>`
    (`every thursday 8pm`), read in `period` when one was named; None when there are none."""
    if said is None:
        if stream.accept("at"):
            said = _said_list(stream, example)
        elif _is_clock(stream, 0):
            said = _said_list(stream, example)
        else:
            return None
    elif stream.peek_word() == "at" and _is_clock(stream, 1):
        raise fail("You gave the time twice.", example, "at")
    return [_in_period(s, period, example) for s in said]


def _calendar_when(clocks: list[TimeOfDay], dom: str, month: str, dow: str, ctx: Ctx, text: str,
                   note: str | None = None) -> When:
    return _cron_when(_calendar_cron(clocks, dom, month, dow), ctx, text, note)


def _calendar_cron(clocks: list[TimeOfDay], dom: str, month: str, dow: str) -> str:
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
    fields = [_join(minutes), _join(hours), dom, month, dow]
    if seconds != [0]:
        fields.insert(0, _join(seconds))
    expression = " ".join(fields)
    return _valid_cron(expression, expression)


def _join(values: list[int]) -> str:
    return ",".join(str(v) for v in values)


# ---------------------------------------------------------------------------------------------
# Days of the week


def _repeating_days_word(word: str) -> bool:
    """Does `word` name days that repeat, so it can start a `<when>` without `every`: weekdays,
    weekends, mondays, mon-fri (but not `monday`, which is one day: next Monday)."""
    if word in ("weekday", "weekdays", "weekend", "weekends") or word in _PLURAL_DAYS:
        return True
    first, dash, last = word.partition("-")
    return bool(dash) and first in _DAY_NAMES and last in _DAY_NAMES


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
    """'30m', '2 hours', '1h30m', '1 hour and 30 minutes', 'an hour', '1.5 hours', 'other day',
    'third day' -> seconds.

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
    return unknown(token.text, example, ("every", "day", "weekday", "weekend", "hour", "minute", "other", "morning",
                                         "evening", "month", "year", *_UNITS, *_DAY_NAMES))


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


def _starts_one_time(stream: TokenStream) -> bool:
    word = stream.peek_word() or ""
    return (word in ("at", "on") or _starts_day(stream, 0)
            or (_is_clock(stream, 0) and not word.isdigit()))


def _starts_day(stream: TokenStream, ahead: int) -> bool:
    """Does a day start `ahead` tokens on: today, tonight, this evening, next friday, friday,
    dec 24, the 1st, 2026-12-24, 24/12, 24.12.?"""
    word = stream.peek_word(ahead) or ""
    if word in ("today", "tomorrow", "tonight") or word in _SINGLE_DAYS or word in _MONTHS:
        return True
    if word in ("this", "next"):
        after = stream.peek_word(ahead + 1) or ""
        return after in _SINGLE_DAYS or (word == "this" and after in _PERIOD_HOURS)
    if word == "the":
        return _DAY_OF_MONTH.fullmatch(stream.peek_word(ahead + 1) or "") is not None
    return _numeric_date_shape(word) or _NTH.fullmatch(word) is not None and (
        stream.peek_word(ahead + 1) in ("of", *_MONTHS))


def _numeric_date_shape(word: str) -> bool:
    return any(p.fullmatch(word) for p in (_ISO_DATE, _SLASH_DATE, _DOTTED_DATE))


def _starts_repeat(stream: TokenStream) -> bool:
    """After a time (`at 9pm ...`): does a repetition follow (every day, daily, on weekdays)?"""
    word = stream.peek_word() or ""
    if word in ("every", "each") or word in _REPEAT_WORDS or _repeating_days_word(word):
        return True
    return word == "on" and _repeating_days_word(stream.peek_word(1) or "")


def _one_time(stream: TokenStream, ctx: Ctx) -> When:
    """at 18:30 / today at 18:30 / tomorrow at 9 / on dec 24 at 18:00 / at 9 on friday / tonight at 8pm
    / next friday at 17:00 / on 24/12; and, when a repetition follows a time, `at 9pm every day`."""
    ref: DateRef | None = None
    period: str | None = None
    said: list[Said] | None = None
    first: Token | None = None
    while (word := stream.peek_word()) is not None:
        if word == "at" or (said is None and ref is None and _is_clock(stream, 0) and not word.isdigit()):
            if said is not None:
                raise fail("You gave the time twice.", "on", word)
            stream.accept("at")
            said = _said_list(stream, "at")
        elif ref is None and _starts_repeat(stream) and (said is not None or word == "on"):
            if stream.peek_word() == "on":
                stream.next()
            return _repeat_after_time(stream, ctx, said)
        elif word == "on" or _starts_day(stream, 0):
            if ref is not None:
                raise fail("You gave the day twice.", "on", word)
            stream.accept("on")
            first = stream.peek()
            ref, period = _day(stream, ctx, "on")
            if ref.every_month:
                return _monthly_on(stream, ctx, ref.day, said, first)
            if said is None and _is_clock(stream, 0):
                said = _said_list(stream, "on")
        else:
            break
    if said is None and ref is None:
        raise fail("At what time? Add at <time>.", "on")
    if said is not None and len(said) > 1:
        raise fail("A one-time schedule has one time; add one schedule per time, or say every day at ...",
                   "on", said[1].word)
    assert ref is not None or said is not None
    note = None
    if said is None:
        assert ref is not None
        if period is not None or ref.kind == "today":
            raise fail(f"At what time {_day_words(ref, period)}? Add at <time>.",
                       "tomorrow" if ref.kind == "tomorrow" else "on")
        clock, note = _DEFAULT_TIME, DEFAULT_TIME_NOTE
    else:
        clock = _in_period(said[0], period, "on")
    if ref is None:
        instant = _today_or_tomorrow(clock, ctx)
    else:
        # At night, hours before 06:00 are the next day's, except tonight after midnight already.
        early = period == "night" and clock.hour < _NEXT_DAY_BEFORE
        shift = 1 if early and not (ref.shown == "tonight" and ctx.local_now.hour < _NEXT_DAY_BEFORE) else 0
        instant = _first_future(ref, clock, ctx, "on", first, shift)
    return _one_time_when(instant, ctx, describe_instant(instant, ctx), note)


def _repeat_after_time(stream: TokenStream, ctx: Ctx, said: list[Said] | None) -> When:
    """`at 9pm every day`, `at 8 on weekdays`, `at 7 daily`: the repetition, with the times said."""
    word = stream.peek_word() or ""
    if word in ("every", "each"):
        stream.next()
        return _every(stream, ctx, said)
    if word in _REPEAT_WORDS:
        return _repeat_word(stream, ctx, said)
    return _every_days(stream, ctx, said)


def _day_words(ref: DateRef, period: str | None) -> str:
    """'today', 'tonight', 'this morning', 'tomorrow evening', 'on Friday evening'."""
    if ref.shown in ("tonight", "this morning", "this afternoon", "this evening", "this night"):
        return ref.shown
    on = "" if ref.kind in ("today", "tomorrow") else "on "
    return f"{on}{ref.shown}" + (f" {period}" if period else "")


def _today_or_tomorrow(clock: TimeOfDay, ctx: Ctx) -> datetime:
    """`clock` today in the zone, or tomorrow when that has passed (or is now)."""
    today = ctx.local_now.date()
    instant = wall_to_utc(datetime.combine(today, clock.as_time()), ctx.zone)
    if instant <= ctx.now:
        instant = wall_to_utc(datetime.combine(today + timedelta(days=1), clock.as_time()), ctx.zone)
    return instant


def _first_future(ref: DateRef, clock: TimeOfDay, ctx: Ctx, example: str, typed: Token | None,
                  shift_days: int = 0) -> datetime:
    """The first day `ref` can mean at which `clock` (`shift_days` later: night after midnight) is
    still ahead of now."""
    for day in _candidate_days(ref, ctx.local_now.date()):
        instant = wall_to_utc(datetime.combine(day + timedelta(days=shift_days), clock.as_time()), ctx.zone)
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
    elif ref.kind in ("weekday", "next_weekday"):
        python_weekday = (ref.weekday - 1) % 7
        for offset in range(0 if ref.kind == "weekday" else 1, 15):
            day = today + timedelta(days=offset)
            if day.weekday() == python_weekday:
                yield day
    elif ref.kind == "day_of_month":  # this month or the next ones that have that day
        for ahead in range(0, 15):
            year, month = divmod(today.month - 1 + ahead, 12)
            if _is_date(today.year + year, month + 1, ref.day):
                yield date(today.year + year, month + 1, ref.day)
    else:  # month_day: this year or the next years (29 February needs a leap year)
        for year in range(today.year, today.year + 9):
            if _is_date(year, ref.month, ref.day):
                yield date(year, ref.month, ref.day)


def _one_time_when(instant: datetime, ctx: Ctx, text: str, note: str | None = None) -> When:
    return When(ScheduleType.ONE_TIME.value, None, None, instant, ctx.zone_name, text, note=note)


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


def _day(stream: TokenStream, ctx: Ctx, example: str) -> tuple[DateRef, str | None]:
    """A day for a one-time schedule, with the part of it when one is named: tonight, this evening,
    tomorrow morning, friday night, or any date of :func:`_date`."""
    word = stream.peek_word()
    if word == "tonight":
        stream.next()
        return DateRef("today", "tonight"), "night"
    if word == "this" and stream.peek_word(1) in _PERIOD_HOURS:
        stream.next()
        token = stream.next()
        assert token is not None
        return DateRef("today", f"this {token.low}"), token.low
    ref = _date(stream, ctx, example)
    period = stream.peek_word()
    if period in _PERIOD_HOURS and not ref.every_month:
        stream.next()
        return ref, period
    return ref, None


def _date(stream: TokenStream, ctx: Ctx, example: str) -> DateRef:
    """2026-12-24 / dec 24 [2026] / 24 december / the 24th of december / 24/12 / 24.12. / friday /
    next friday / this friday / today / tomorrow / the 1st / the 1st of every month."""
    stream.accept("the")
    token = stream.next()
    if token is None:
        raise fail("Which day?", example)
    word = token.low
    if token.quoted:
        raise unknown(token.text, example, DATE_WORDS)
    if word in ("today", "tomorrow"):
        return DateRef(word, word)
    if word in ("next", "this") and stream.peek_word() in _SINGLE_DAYS:
        day_token = stream.next()
        assert day_token is not None
        weekday = _SINGLE_DAYS[day_token.low]
        kind = "next_weekday" if word == "next" else "weekday"
        return DateRef(kind, f"{word} {_DAY_FULL[weekday].title()}", weekday=weekday)
    if (iso := _ISO_DATE.fullmatch(word)) is not None:
        return _exact_date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)), token.text, example)
    if (numeric := _numeric_date(token.text, ctx, example)) is not None:
        return numeric
    if word in _SINGLE_DAYS:
        return DateRef("weekday", _DAY_FULL[_SINGLE_DAYS[word]].title(), weekday=_SINGLE_DAYS[word])
    if word in _MONTHS:
        stream.accept("the")
        return _month_day(_MONTHS[word], _day_of_month(stream, example), stream, example)
    if (match := _DAY_OF_MONTH.fullmatch(word)) is not None:
        day = int(match.group(1))
        if stream.peek_word() not in ("of", *_MONTHS) and match.group(2):
            return _day_of_month_ref(day, token.text, example)  # the 1st: of whichever month comes next
        stream.accept("of")
        if stream.peek_word() in ("every", "each") and stream.peek_word(1) == "month":
            stream.next()
            stream.next()
            if not 1 <= day <= 31:
                raise fail(f"Which day of the month? {show(token.text)} is not one.", example, token.text)
            return DateRef("day_of_month", f"the {_ordinal_suffix(day)}", day=day, every_month=True)
        month_token = stream.next()
        if month_token is None or month_token.quoted or month_token.low not in _MONTHS:
            shown = month_token.text if month_token else None
            raise fail(f"Which month? {show(shown or '')} is not one.", example, shown)
        return _month_day(_MONTHS[month_token.low], day, stream, example)
    raise unknown(token.text, example, DATE_WORDS)


def _day_of_month_ref(day: int, word: str, example: str) -> DateRef:
    if not 1 <= day <= 31:
        raise fail(f"Which day of the month? {show(word)} is not one.", example, word)
    return DateRef("day_of_month", f"the {_ordinal_suffix(day)}", day=day)


def _numeric_date(text: str, ctx: Ctx, example: str) -> DateRef | None:
    """24/12, 12/24, 24/12/2026, 12/24/26, 24.12., 24.12.2026 (None: not written like that).

    The reading that is a date wins (dots are day first); when both are (01/02), the community's
    date order decides, and without one the user is asked."""
    dotted = _DOTTED_DATE.fullmatch(text)
    slashed = _SLASH_DATE.fullmatch(text)
    match = dotted or slashed
    if match is None:
        return None
    first, second = int(match.group(1)), int(match.group(2))
    year = _full_year(match.group(3))
    day_first = (first, second) if _is_date(2000, second, first) else None  # (day, month)
    month_first = (second, first) if _is_date(2000, first, second) and dotted is None else None
    if day_first and month_first and day_first != month_first:
        if ctx.date_order is None:
            raise _which_date(text, first, second)
        day_first, month_first = (day_first, None) if ctx.date_order == "dmy" else (None, month_first)
    reading = day_first or month_first
    if reading is None:
        raise fail(f"{show(text)} is not a date.", example, text)
    day, month = reading
    if year is not None:
        return _exact_date(year, month, day, text, example)
    return _month_day(month, day, None, example)


def _which_date(text: str, first: int, second: int) -> ChatParseError:
    """Ask which of the two readings of `text` was meant."""
    day_first = f"{first} {date(2000, second, 1):%b}"
    month_first = f"{date(2000, first, 1):%b} {second}"
    return fail(
        f"Is {show(text)} {day_first} or {month_first}? Write the month as a word ({day_first.lower()}), "
        "or set how dates are read here once: !schedule dateorder dmy (day first) or mdy (month first).",
        "dateorder", text,
    )


def _full_year(text: str | None) -> int | None:
    if not text:
        return None
    return 2000 + int(text) if len(text) == 2 else int(text)


def _day_of_month(stream: TokenStream, example: str) -> int:
    token = stream.next()
    match = _DAY_OF_MONTH.fullmatch(token.low) if token and not token.quoted else None
    if match is None:
        shown = token.text if token else ""
        raise fail(f"Which day of the month? {show(shown)} is not one.", example, shown or None)
    return int(match.group(1))


def _month_day(month: int, day: int, stream: TokenStream | None, example: str) -> DateRef:
    if not _is_date(2000, month, day):  # 2000 is a leap year: 29 February is a date
        raise fail(f"There is no day {day} in {date(2000, month, 1):%B}.", example, str(day))
    shown = f"{day} {date(2000, month, 1):%b}"
    if stream is not None:
        stream.accept(",")
        year_word = stream.peek_word()
        if year_word is not None and _YEAR.fullmatch(year_word):
            stream.next()
            return _exact_date(int(year_word), month, day, f"{shown} {year_word}", example)
    return DateRef("month_day", shown, month=month, day=day)


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


def _said(stream: TokenStream, example: str) -> Said:
    """18:00 / 9 / 9am / 9:15 pm / 18.30 / 18:00:30 / noon / midnight, and a part of the day
    after it (`8 in the evening`, `11 at night`), which decides it at once."""
    token = stream.next()
    if token is None:
        raise fail("At what time?", example)
    word = token.low
    if not token.quoted and word in ("noon", "midday"):
        return Said(TimeOfDay(12, 0), False, token.text)
    if not token.quoted and word == "midnight":
        return Said(TimeOfDay(0, 0), False, token.text)
    match = None if token.quoted else _CLOCK.fullmatch(word)
    if match is None:
        raise fail(f"{show(token.text)} is not a time of day; use 18:00, 9am or 9:15pm.", example, token.text)
    hour, minute, second = int(match.group(1)), int(match.group(2) or 0), int(match.group(3) or 0)
    meridiem = _MERIDIEM.get(match.group(4) or "")
    if meridiem is None and stream.peek_word() in _MERIDIEM:
        meridiem = _MERIDIEM[stream.peek_word() or ""]
        stream.next()
    clock = _checked_clock(hour, minute, second, meridiem, token.text, example)
    said = Said(clock, meridiem is None and 1 <= hour <= 12 and not word.startswith("0"), token.text)
    period = _period_after(stream)
    return said if period is None else Said(_in_period(said, period, example), False, token.text)


def _period_after(stream: TokenStream) -> str | None:
    """`in the morning|afternoon|evening` or `at night` right after a time, consumed."""
    if stream.peek_word() == "in" and stream.peek_word(1) == "the" and stream.peek_word(2) in _PERIOD_HOURS:
        stream.next()
        stream.next()
        token = stream.next()
        assert token is not None
        return token.low
    if stream.peek_word() == "at" and stream.peek_word(1) == "night":
        stream.next()
        stream.next()
        return "night"
    return None


def _in_period(said: Said, period: str | None, example: str) -> TimeOfDay:
    """The time `said` means in `period`: a bare 8 is 08:00 in the morning and 20:00 in the evening."""
    if period is None:
        return said.time
    hours = _PERIOD_HOURS[period]
    clock = said.time
    if said.bare:
        for hour in (clock.hour % 12, clock.hour % 12 + 12):
            if hour in hours:
                return replace(clock, hour=hour)
    elif clock.hour in hours:
        return clock
    raise fail(f"{show(said.word)} is not {_PERIOD_PHRASES[period]}; leave out the part of the day, or give a time "
               f"{_PERIOD_PHRASES[period]}.", example, said.word)


def _clock(stream: TokenStream, example: str) -> TimeOfDay:
    return _said(stream, example).time


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
    if word is None or word.isdigit() and stream.peek_word(ahead + 1) == "times":
        return False
    return word in ("noon", "midday", "midnight") or _CLOCK.fullmatch(word) is not None


def _optional_clock(stream: TokenStream) -> TimeOfDay | None:
    """A time written right after a day, without `at`: 'tomorrow 9am', 'on dec 24 18:00'."""
    return _clock(stream, "on") if _is_clock(stream, 0) else None


def _said_list(stream: TokenStream, example: str) -> list[Said]:
    """9 / 9 and 21 / 9:00, 12:00 and 18:00."""
    said = [_said(stream, example)]
    while stream.peek_word() in _LIST_SEPARATORS and _is_clock(stream, 1):
        stream.next()
        said.append(_said(stream, example))
    return said


def _clocks_text(clocks: list[TimeOfDay]) -> str:
    return _and_list([c.text for c in sorted(set(clocks))])
