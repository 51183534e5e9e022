"""RFC 5545 recurrence rules (RRULE), evaluated with python-dateutil's ``rrule``. Pure.

A rule is read in the schedule's time zone: its DTSTART is the schedule's ``start_date`` as a
wall time there (its first day and, unless BYHOUR/BYMINUTE say otherwise, its time of day).
Each wall time the rule yields goes through the daylight-saving rule of cron (``zones``): one
that does not exist runs at the first instant after the gap; one that happens twice runs once, at
its first reading, unless the rule has no fixed hours (``FREQ=HOURLY`` or ``MINUTELY`` without
``BYHOUR``, like a cron whose hour is ``*``), which runs at both readings, so an hourly rule does
not skip the repeated hour. A rule with ``COUNT`` counts wall times, each run once.

What we accept is a bounded subset, so that no rule can keep a CPU busy:

* only the rule's own parts (``FREQ``, ``INTERVAL``, ``COUNT``, ``UNTIL``, ``BYMONTH``,
  ``BYMONTHDAY``, ``BYDAY``, ``BYSETPOS``, ``BYHOUR``, ``BYMINUTE``, ``WKST``), at most
  :data:`MAX_RULE_CHARS` characters; DTSTART and other properties are refused (DTSTART is
  ``start_date``);
* ``FREQ=SECONDLY``, ``BYSECOND``, ``BYYEARDAY``, ``BYWEEKNO`` are refused, and so is
  ``INTERVAL`` > 1 together with day filters for daily or finer rules;
* dateutil walks a rule from its DTSTART and, when no day matches, on to the year 9999.
  Occurrences are therefore looked for from a DTSTART moved forward by whole INTERVAL periods
  (the rule's defaults made explicit first, so that moving it changes nothing), and a new rule
  is first tried on the calendar's last 400 years (the Gregorian calendar repeats every 400
  years), which bounds the search; a rule that never matches there is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import islice

from dateutil import rrule as du

from . import zones
from .types import UTC

MAX_RULE_CHARS = 300
MAX_COUNT = 1000
MAX_LIST = 60  # values in one BY... list
_FREQS = {"YEARLY": du.YEARLY, "MONTHLY": du.MONTHLY, "WEEKLY": du.WEEKLY, "DAILY": du.DAILY,
          "HOURLY": du.HOURLY, "MINUTELY": du.MINUTELY}
_MAX_INTERVAL = {"YEARLY": 10, "MONTHLY": 120, "WEEKLY": 520, "DAILY": 3660, "HOURLY": 8784, "MINUTELY": 527040}
_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_ALLOWED = ("FREQ", "INTERVAL", "COUNT", "UNTIL", "BYMONTH", "BYMONTHDAY", "BYDAY", "BYSETPOS", "BYHOUR",
            "BYMINUTE", "WKST")
_REFUSED = {
    "DTSTART": "DTSTART is the schedule's start_date; leave it out of the rule",
    "BYSECOND": "BYSECOND is not supported (schedules run on whole minutes)",
    "BYYEARDAY": "BYYEARDAY is not supported; use BYMONTH and BYMONTHDAY",
    "BYWEEKNO": "BYWEEKNO is not supported; use BYMONTH, BYMONTHDAY or BYDAY",
    "BYEASTER": "BYEASTER is not part of RFC 5545",
}
_BYDAY = re.compile(r"^([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$")
_UNTIL = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z?))?$")
_INT = re.compile(r"^[+-]?\d{1,6}$")
_PROBE_YEAR = 9600  # dateutil stops at the year 9999: a probe from here looks at 400 years at most
_WALK = 20_000  # wall times looked at for one next occurrence (a minutely rule crosses a day in 1,440)


class RRuleError(ValueError):
    """The rule is not one we accept; the message says why, for a human."""


@dataclass(frozen=True, slots=True)
class RRuleSpec:
    """A checked rule: its parts, normalised (upper case, in RFC order)."""

    text: str
    freq: str
    interval: int = 1
    count: int | None = None
    until: tuple[int, ...] | None = None  # (y, m, d, H, M, S, is_utc)
    bymonth: tuple[int, ...] = ()
    bymonthday: tuple[int, ...] = ()
    byday: tuple[tuple[int, int], ...] = ()  # (weekday 0=MO, ordinal or 0)
    bysetpos: tuple[int, ...] = ()
    byhour: tuple[int, ...] = ()
    byminute: tuple[int, ...] = ()
    wkst: int = 0


def _ints(key: str, value: str, low: int, high: int, *, nonzero: bool = False) -> tuple[int, ...]:
    items = value.split(",")
    if len(items) > MAX_LIST:
        raise RRuleError(f"{key} has more than {MAX_LIST} values")
    out: list[int] = []
    for item in items:
        if not _INT.match(item):
            raise RRuleError(f"{key}={value}: {item!r} is not a whole number")
        number = int(item)
        if nonzero:
            if number == 0 or not low <= abs(number) <= high:
                raise RRuleError(f"{key}={value}: each value must be between {low} and {high} or -{high} and -{low}")
        elif not low <= number <= high:
            raise RRuleError(f"{key}={value}: each value must be between {low} and {high}")
        if number not in out:
            out.append(number)
    return tuple(sorted(out))


@lru_cache(maxsize=1024)
def parse_rrule(text: str) -> RRuleSpec:
    """Check `text` (an RRULE value such as ``FREQ=MONTHLY;BYDAY=TU;BYSETPOS=2``)."""
    if not isinstance(text, str) or not text.strip():
        raise RRuleError("is empty; expected a rule like 'FREQ=WEEKLY;BYDAY=MO,TH'")
    if len(text) > MAX_RULE_CHARS:
        raise RRuleError(f"is longer than {MAX_RULE_CHARS} characters")
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[6:]
    if any(c in body for c in ":\n\r\t ") or any(ord(c) < 32 for c in body):
        raise RRuleError("must be one RRULE value (KEY=VALUE parts joined by ';'); DTSTART, EXDATE and other "
                         "properties are not accepted")
    parts: dict[str, str] = {}
    for part in body.rstrip(";").split(";"):
        key, sep, value = part.partition("=")
        key = key.upper()
        if not sep or not key or not value:
            raise RRuleError(f"part {part!r} is not KEY=VALUE")
        if key in _REFUSED:
            raise RRuleError(_REFUSED[key])
        if key not in _ALLOWED:
            raise RRuleError(f"unknown part {key!r}; allowed: {', '.join(_ALLOWED)}")
        if key in parts:
            raise RRuleError(f"{key} is given twice")
        parts[key] = value.upper()
    freq = parts.get("FREQ")
    if freq is None:
        raise RRuleError("FREQ is required (YEARLY, MONTHLY, WEEKLY, DAILY, HOURLY or MINUTELY)")
    if freq == "SECONDLY":
        raise RRuleError("FREQ=SECONDLY is not supported; use MINUTELY or a cron expression with seconds")
    if freq not in _FREQS:
        raise RRuleError(f"FREQ={freq} is not one of {', '.join(_FREQS)}")
    interval = _ints("INTERVAL", parts["INTERVAL"], 1, _MAX_INTERVAL[freq])[0] if "INTERVAL" in parts else 1
    if "INTERVAL" in parts and "," in parts["INTERVAL"]:
        raise RRuleError("INTERVAL takes one number")
    count = None
    if "COUNT" in parts:
        if "," in parts["COUNT"]:
            raise RRuleError("COUNT takes one number")
        count = _ints("COUNT", parts["COUNT"], 1, MAX_COUNT)[0]
    until = None
    if "UNTIL" in parts:
        if count is not None:
            raise RRuleError("give COUNT or UNTIL, not both")
        until = _until(parts["UNTIL"])
    byday: list[tuple[int, int]] = []
    if "BYDAY" in parts:
        items = parts["BYDAY"].split(",")
        if len(items) > MAX_LIST:
            raise RRuleError(f"BYDAY has more than {MAX_LIST} values")
        for item in items:
            match = _BYDAY.match(item)
            if not match:
                raise RRuleError(f"BYDAY={parts['BYDAY']}: {item!r} is not a day like MO, 2TU or -1FR")
            nth = int(match[1]) if match[1] else 0
            if nth:
                if freq not in ("MONTHLY", "YEARLY"):
                    raise RRuleError(f"BYDAY={item}: a numbered day (2TU, -1FR) needs FREQ=MONTHLY or YEARLY")
                limit = 5 if freq == "MONTHLY" or "BYMONTH" in parts else 53
                if not 1 <= abs(nth) <= limit:
                    raise RRuleError(f"BYDAY={item}: the number must be between 1 and {limit} (or negative)")
            entry = (_DAYS.index(match[2]), nth)
            if entry not in byday:
                byday.append(entry)
    spec = RRuleSpec(
        text="",
        freq=freq,
        interval=interval,
        count=count,
        until=until,
        bymonth=_ints("BYMONTH", parts["BYMONTH"], 1, 12) if "BYMONTH" in parts else (),
        bymonthday=_ints("BYMONTHDAY", parts["BYMONTHDAY"], 1, 31, nonzero=True) if "BYMONTHDAY" in parts else (),
        byday=tuple(byday),
        bysetpos=_ints("BYSETPOS", parts["BYSETPOS"], 1, 366, nonzero=True) if "BYSETPOS" in parts else (),
        byhour=_ints("BYHOUR", parts["BYHOUR"], 0, 23) if "BYHOUR" in parts else (),
        byminute=_ints("BYMINUTE", parts["BYMINUTE"], 0, 59) if "BYMINUTE" in parts else (),
        wkst=_DAYS.index(parts["WKST"]) if parts.get("WKST") in _DAYS else 0,
    )
    if "WKST" in parts and parts["WKST"] not in _DAYS:
        raise RRuleError(f"WKST={parts['WKST']} is not a day (MO..SU)")
    if spec.bysetpos and freq not in ("YEARLY", "MONTHLY", "WEEKLY"):
        raise RRuleError("BYSETPOS needs FREQ=YEARLY, MONTHLY or WEEKLY")
    if spec.bysetpos and not (spec.byday or spec.bymonthday):
        raise RRuleError("BYSETPOS needs BYDAY or BYMONTHDAY to pick from")
    day_filters = spec.bymonth or spec.bymonthday or spec.byday
    if spec.bymonthday and freq == "WEEKLY":
        raise RRuleError("BYMONTHDAY is not allowed with FREQ=WEEKLY (RFC 5545)")
    if freq in ("DAILY", "HOURLY", "MINUTELY") and interval > 1 and day_filters:
        raise RRuleError(f"with FREQ={freq} and INTERVAL > 1, BYMONTH, BYMONTHDAY and BYDAY are not supported; "
                         "use FREQ=WEEKLY or MONTHLY, or a calendar")
    return _with_text(spec)


def _until(value: str) -> tuple[int, ...]:
    match = _UNTIL.match(value)
    if not match:
        raise RRuleError(f"UNTIL={value} is not a date like 20271231 or 20271231T235959Z")
    parts = [int(g) if g else 0 for g in match.groups()[:6]]
    try:
        datetime(parts[0], parts[1], parts[2], parts[3], parts[4], parts[5])
    except ValueError:
        raise RRuleError(f"UNTIL={value} is not a real date") from None
    if not 1970 <= parts[0] <= 9998:
        raise RRuleError(f"UNTIL={value} is out of range (years 1970-9998)")
    return (*parts, 1 if match[7] else 0)


def _with_text(spec: RRuleSpec) -> RRuleSpec:
    parts = [f"FREQ={spec.freq}"]
    if spec.interval != 1:
        parts.append(f"INTERVAL={spec.interval}")
    if spec.count is not None:
        parts.append(f"COUNT={spec.count}")
    if spec.until is not None:
        y, mo, d, h, mi, s, z = spec.until
        parts.append(f"UNTIL={y:04d}{mo:02d}{d:02d}T{h:02d}{mi:02d}{s:02d}{'Z' if z else ''}")
    for key, values in (("BYMONTH", spec.bymonth), ("BYMONTHDAY", spec.bymonthday)):
        if values:
            parts.append(f"{key}={','.join(map(str, values))}")
    if spec.byday:
        parts.append("BYDAY=" + ",".join(f"{n if n else ''}{_DAYS[d]}" for d, n in spec.byday))
    for key, values in (("BYSETPOS", spec.bysetpos), ("BYHOUR", spec.byhour), ("BYMINUTE", spec.byminute)):
        if values:
            parts.append(f"{key}={','.join(map(str, values))}")
    if spec.wkst:
        parts.append(f"WKST={_DAYS[spec.wkst]}")
    return RRuleSpec(";".join(parts), spec.freq, spec.interval, spec.count, spec.until, spec.bymonth,
                     spec.bymonthday, spec.byday, spec.bysetpos, spec.byhour, spec.byminute, spec.wkst)


# ---- evaluation ------------------------------------------------------------------------------


def _until_local(spec: RRuleSpec, timezone: str) -> datetime | None:
    if spec.until is None:
        return None
    y, mo, d, h, mi, s, is_utc = spec.until
    value = datetime(y, mo, d, h, mi, s)
    if is_utc:
        return value.replace(tzinfo=UTC).astimezone(zones.zone(timezone)).replace(tzinfo=None)
    return value


def _explicit(spec: RRuleSpec, dtstart: datetime) -> dict[str, object]:
    """dateutil's keyword arguments, with every default it would take from DTSTART spelled out,
    so that moving DTSTART by whole periods does not change the rule."""
    freq = _FREQS[spec.freq]
    bymonth = spec.bymonth
    bymonthday = spec.bymonthday
    byday = spec.byday
    if not (bymonthday or byday):
        if freq == du.YEARLY:
            bymonth = bymonth or (dtstart.month,)
            bymonthday = (dtstart.day,)
        elif freq == du.MONTHLY:
            bymonthday = (dtstart.day,)
        elif freq == du.WEEKLY:
            byday = ((dtstart.weekday(), 0),)
    return {
        "freq": freq,
        "interval": spec.interval,
        "wkst": spec.wkst,
        "bymonth": bymonth or None,
        "bymonthday": bymonthday or None,
        "byweekday": tuple(du.weekday(d, n or None) for d, n in byday) or None,
        "bysetpos": spec.bysetpos or None,
        "byhour": spec.byhour or ((dtstart.hour,) if freq < du.HOURLY else None),
        "byminute": spec.byminute or ((dtstart.minute,) if freq < du.MINUTELY else None),
        "bysecond": (dtstart.second,),
    }


def _moved_start(spec: RRuleSpec, dtstart: datetime, target: datetime) -> datetime:
    """The start of the last period of the rule (a whole number of INTERVAL periods after
    DTSTART's) that begins at least a day before `target`; DTSTART itself when there is none."""
    i = spec.interval
    reach = target - timedelta(days=1)
    if reach <= dtstart:
        return dtstart
    if spec.freq == "YEARLY":
        k = (reach.year - dtstart.year) // i * i
        moved = datetime(dtstart.year + k, 1, 1)
    elif spec.freq == "MONTHLY":
        months = (reach.year * 12 + reach.month) - (dtstart.year * 12 + dtstart.month)
        k = months // i * i
        y, m = divmod(dtstart.year * 12 + dtstart.month - 1 + k, 12)
        moved = datetime(y, m + 1, 1)
    elif spec.freq == "WEEKLY":
        first_day = dtstart.date() - timedelta(days=(dtstart.weekday() - spec.wkst) % 7)
        week = datetime.combine(first_day, datetime.min.time())
        k = (reach - week).days // 7 // i * i
        moved = week + timedelta(weeks=k)
    elif spec.freq == "DAILY":
        day = datetime.combine(dtstart.date(), datetime.min.time())
        moved = day + timedelta(days=(reach - day).days // i * i)
    elif spec.freq == "HOURLY":
        hour = dtstart.replace(minute=0, second=0)
        moved = hour + timedelta(hours=int((reach - hour).total_seconds() // 3600) // i * i)
    else:
        minute = dtstart.replace(second=0)
        moved = minute + timedelta(minutes=int((reach - minute).total_seconds() // 60) // i * i)
    return moved if moved > dtstart else dtstart


def _build(spec: RRuleSpec, dtstart: datetime, start: datetime, timezone: str, *, bounded: bool = True) -> du.rrule:
    return _built(spec, dtstart, start, timezone if bounded else "", bounded)


@lru_cache(maxsize=2048)
def _built(spec: RRuleSpec, dtstart: datetime, start: datetime, timezone: str, bounded: bool) -> du.rrule:
    kwargs = _explicit(spec, dtstart)
    return du.rrule(dtstart=start, count=spec.count if bounded else None,
                    until=_until_local(spec, timezone) if bounded else None, cache=False, **kwargs)  # type: ignore[arg-type]


def next_rrule(spec: RRuleSpec, timezone: str, dtstart: datetime, after: datetime) -> datetime | None:
    """The first instant strictly after `after` at which the rule fires (aware UTC, whole
    seconds); `dtstart` is the rule's DTSTART as an instant (its wall time in `timezone` is
    what the rule reads). None when the rule has ended (COUNT, UNTIL) or matches nothing more."""
    zone = zones.zone(timezone)
    after = after.astimezone(UTC).replace(microsecond=0)
    start_wall = dtstart.astimezone(zone).replace(tzinfo=None, fold=0)
    search = after.astimezone(zone).replace(tzinfo=None, fold=0) - timedelta(hours=3)  # wider than any DST shift
    # With COUNT the occurrences are counted from DTSTART (at most MAX_COUNT of them), so the
    # rule cannot be moved forward.
    start = start_wall if spec.count is not None else _moved_start(spec, start_wall, search)
    rule = _build(spec, start_wall, start, timezone)
    twice = spec.freq in ("HOURLY", "MINUTELY") and not spec.byhour and spec.count is None
    best: datetime | None = None
    try:
        for wall in islice(rule.xafter(max(search, start), inc=True), _WALK):
            instant = zones.wall_to_utc(wall, zone)
            if best is not None and instant >= best:
                break  # first readings only grow with the wall time, and second ones are later still
            if instant > after:
                best = instant
            elif twice:  # the second reading of a repeated wall time, which may come after `after`
                again = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
                if again > after and again.astimezone(zone).replace(tzinfo=None) == wall and \
                        (best is None or again < best):
                    best = again
    except (ValueError, OverflowError):  # an empty combination dateutil finds while walking
        return best
    return best


def check_rrule(spec: RRuleSpec, timezone: str, dtstart: datetime, min_interval_seconds: int) -> None:
    """Refuse a rule that never fires or fires more often than `min_interval_seconds` (the
    shortest gap among its first occurrences from DTSTART, moved to the probe's years)."""
    start_wall = dtstart.astimezone(zones.zone(timezone)).replace(tzinfo=None, fold=0)
    probe_from = datetime(_PROBE_YEAR, 1, 1)
    try:
        if spec.freq in ("YEARLY", "MONTHLY", "WEEKLY"):
            probe = _build(spec, start_wall, _moved_start(spec, start_wall, probe_from), timezone, bounded=False)
            first = probe.after(probe_from - timedelta(days=1), inc=True)
        else:
            days = RRuleSpec("", "YEARLY", 1, None, None, spec.bymonth or tuple(range(1, 13)), spec.bymonthday,
                             spec.byday)
            probe = du.rrule(du.YEARLY, dtstart=probe_from, **{
                k: v for k, v in _explicit(days, probe_from).items() if k != "freq"})  # type: ignore[arg-type]
            first = probe.after(probe_from, inc=True)
            if first is not None:  # the time part (BYHOUR, BYMINUTE against INTERVAL) on its own
                timed = _build(spec, start_wall, start_wall, timezone, bounded=False)
                first = timed.after(start_wall, inc=True)
    except (ValueError, OverflowError) as exc:
        raise RRuleError(f"never fires ({exc})") from None
    if first is None:
        raise RRuleError("never fires: no day matches all of its parts (looked at 400 years, a whole cycle of the "
                         "calendar)")
    if spec.freq in ("HOURLY", "MINUTELY") or spec.byhour or spec.byminute:
        sample = _build(spec, start_wall, start_wall, timezone, bounded=False)
        times = list(islice(sample, 500))
        gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
        if gaps and min(gaps) < min_interval_seconds:
            raise RRuleError(f"fires every {int(min(gaps))} seconds at its closest; the shortest allowed is "
                             f"{min_interval_seconds} seconds (MIN_INTERVAL_SECONDS)")


# ---- words -----------------------------------------------------------------------------------

_ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", -1: "last", -2: "second to last",
             -3: "third to last"}
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
_UNIT = {"YEARLY": "year", "MONTHLY": "month", "WEEKLY": "week", "DAILY": "day", "HOURLY": "hour",
         "MINUTELY": "minute"}


def _ordinal(n: int) -> str:
    return _ORDINALS.get(n, f"{n}th" if n > 0 else f"{-n}th to last")


def _nth(n: int) -> str:
    if n < 0:
        return "last day" if n == -1 else f"{-n}th to last day"
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _join(words: list[str], last: str = "and") -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + f" {last} " + words[-1]


def _days(days: list[int]) -> str:
    if sorted(days) == [0, 1, 2, 3, 4]:
        return "weekday"
    if sorted(days) == [5, 6]:
        return "weekend day"
    return _join([_DAY_NAMES[d] for d in days], "or")


def describe_rrule(spec: RRuleSpec, dtstart: datetime | None, timezone: str) -> str:
    """"every second Tuesday of the month at 19:00", "every 2 weeks on Monday and Thursday at 09:00"."""
    wall = dtstart.astimezone(zones.zone(timezone)) if dtstart is not None else None
    unit = _UNIT[spec.freq]
    every = f"every {unit}" if spec.interval == 1 else f"every {spec.interval} {unit}s"
    period = {"MONTHLY": "of the month", "YEARLY": "of the year"}.get(spec.freq, "")
    if spec.bymonth and spec.freq == "YEARLY":
        period = "of " + _join([_MONTHS[m - 1] for m in spec.bymonth], "or")
    text = every
    numbered = [(d, n) for d, n in spec.byday if n]
    plain = [d for d, n in spec.byday if not n]
    if spec.bysetpos and plain and len(spec.bysetpos) == 1:
        text = f"every {_ordinal(spec.bysetpos[0])} {_days(plain)} {period}".strip()
    elif numbered and not plain and len({n for _, n in numbered}) == 1:
        text = f"every {_ordinal(numbered[0][1])} {_days([d for d, _ in numbered])} {period}".strip()
    elif numbered:
        text = f"{every} on the " + _join([f"{_ordinal(n)} {_DAY_NAMES[d]}" for d, n in numbered])
    elif plain:
        text = f"{every} on " + _join([_DAY_NAMES[d] for d in plain])
    elif spec.bymonthday and spec.freq == "YEARLY" and spec.bymonth:
        text = f"{every} on the " + _join([_nth(n) for n in spec.bymonthday]) + " " + period
    elif spec.bymonthday:
        text = f"{every} on the " + _join([_nth(n) for n in spec.bymonthday])
    elif wall is not None and spec.freq == "MONTHLY":
        text = f"{every} on the {_nth(wall.day)}"
    elif wall is not None and spec.freq == "YEARLY":
        text = f"{every} on {wall.day} {_MONTHS[wall.month - 1]}"
    elif wall is not None and spec.freq == "WEEKLY":
        text = f"{every} on {_DAY_NAMES[wall.weekday()]}"
    if spec.interval > 1 and text.startswith("every ") and not text.startswith(every):
        text += f", every {spec.interval} {unit}s"
    if spec.bymonth and spec.freq != "YEARLY":
        text += " in " + _join([_MONTHS[m - 1] for m in spec.bymonth])
    if spec.freq in ("HOURLY", "MINUTELY"):
        if spec.byhour:
            text += " between " + _join([f"{h:02d}:00 and {h:02d}:59" for h in spec.byhour], "or") \
                if len(spec.byhour) == 1 else " in the hours " + _join([f"{h:02d}" for h in spec.byhour])
        minutes = spec.byminute or ((wall.minute,) if wall is not None and spec.freq == "HOURLY" else ())
        if minutes:
            text += " at " + _join([f":{m:02d}" for m in minutes])
    else:
        hours = spec.byhour or ((wall.hour,) if wall is not None else ())
        minutes = spec.byminute or ((wall.minute,) if wall is not None else ())
        times = [f"{h:02d}:{m:02d}" for h in hours for m in minutes]
        if times:
            text += " at " + _join(times[:6]) + (" ..." if len(times) > 6 else "")
    if spec.count is not None:
        text += ", once" if spec.count == 1 else f", {spec.count} times"
    if spec.until is not None:
        y, mo, d, h, mi, s, z = spec.until
        text += f", until {y:04d}-{mo:02d}-{d:02d}" + (f" {h:02d}:{mi:02d}" if (h, mi) != (0, 0) else "") + \
            (" UTC" if z else "")
    return text

