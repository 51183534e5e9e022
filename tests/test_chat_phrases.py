"""How people write times in chat, each phrase with the schedule it must become. Pure, no I/O.

`now` is Sunday 2026-11-22 12:00 UTC (Berlin 13:00 CET, New York 07:00 EST) unless a case says
otherwise; the daylight-saving cases move it next to a change. Every expected value was worked
out by hand from the calendar, not copied from the parser.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from workflow_core_module.chat import Add, ChatParseError, parse_command, schedule_spec
from workflow_core_module.chat.commands import DateOrder, List, SetDateOrder
from workflow_core_module.scheduling import ScheduleType, TimeRule, occurrences

from .test_chat_parser import _check_add_invariants

UTC = timezone.utc
NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)  # a Sunday
BERLIN = "Europe/Berlin"
NY = "America/New_York"
SYDNEY = "Australia/Sydney"
NO_TIME = "No time was given, so 09:00."


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def cron(expression: str) -> dict[str, Any]:
    return {"schedule_type": "cron", "cron_expression": expression}


def every(seconds: int, first: str) -> dict[str, Any]:
    """An interval whose grid starts at `first` (UTC): its first run."""
    return {"schedule_type": "interval", "interval_seconds": seconds, "start_date": first}


def once(iso: str) -> dict[str, Any]:
    return {"schedule_type": "one_time", "scheduled_time": iso}


def monthly(byday: str, hour: int, start: str, minutes: str = "0") -> dict[str, Any]:
    """An RRULE for a numbered weekday of every month, from the start of the day it was read (UTC)."""
    return {"schedule_type": "rrule", "rrule": f"FREQ=MONTHLY;BYDAY={byday};BYHOUR={hour};BYMINUTE={minutes}",
            "start_date": start}


DAYS_2 = 2 * 86400
WEEKS_2 = 14 * 86400


@dataclass(frozen=True)
class Phrase:
    when: str  # what follows `add`
    spec: dict[str, Any]  # schedule_spec minus "timezone"
    text: str  # how the reply words it
    zone: str = "UTC"
    now: datetime = NOW
    note: str | None = None
    order: str | None = None  # the community's date order setting


def phrase(when: str, spec: dict[str, Any], text: str, zone: str = "UTC", **kw: Any) -> Any:
    return pytest.param(Phrase(when, spec, text, zone, **kw), id=f"{when} [{zone}]")


# ---- the phrases of the "Everyday use" issue, in UTC, Berlin and New York ------------------------

ISSUE = [
    phrase("daily at 9am", cron("0 9 * * *"), "every day at 09:00"),
    phrase("daily at 9am", cron("0 9 * * *"), "every day at 09:00", BERLIN),
    phrase("every morning at 8", cron("0 8 * * *"), "every day at 08:00"),
    phrase("every morning at 8", cron("0 8 * * *"), "every day at 08:00", NY),
    # 10:00 has passed today in UTC and Berlin: the first run is tomorrow's 10:00, then every 48 h
    phrase("every other day at 10:00", every(DAYS_2, "2026-11-23T10:00:00Z"), "every other day at 10:00"),
    phrase("every other day at 10:00", every(DAYS_2, "2026-11-23T09:00:00Z"), "every other day at 10:00", BERLIN,
           note="It repeats every 2 days (48 hours) exactly, so after the clock change it runs at 11:00 from Mon 29 Mar."),
    # in New York it is 07:00: today's 10:00 is still ahead; 14 Mar 2027 is run 57, a Sunday of summer time
    phrase("every other day at 10:00", every(DAYS_2, "2026-11-22T15:00:00Z"), "every other day at 10:00", NY,
           note="It repeats every 2 days (48 hours) exactly, so after the clock change it runs at 11:00 from Sun 14 Mar."),
    phrase("every 1st of the month at 12:00", cron("0 12 1 * *"), "every month on the 1st at 12:00"),
    # a numbered weekday of the month is an RFC 5545 rule (FREQ=MONTHLY;BYDAY=2TU), read from today
    phrase("every second tuesday of the month at 19:00", monthly("2TU", 19, "2026-11-22T00:00:00Z"),
           "every second Tuesday of the month at 19:00"),
    phrase("every second tuesday of the month at 19:00", monthly("2TU", 19, "2026-11-21T23:00:00Z"),
           "every second Tuesday of the month at 19:00", BERLIN),
    phrase("every second tuesday of the month at 7pm", monthly("2TU", 19, "2026-11-22T05:00:00Z"),
           "every second Tuesday of the month at 19:00", NY),
    phrase("every last friday of the month at 17:00 and 17:30", monthly("-1FR", 17, "2026-11-22T00:00:00Z", "0,30"),
           "every last Friday of the month at 17:00 and 17:30"),
    phrase("every 1st of the month at 12:00", cron("0 12 1 * *"), "every month on the 1st at 12:00", BERLIN),
    phrase("on the 1st at 9", once("2026-12-01T09:00:00Z"), "on Tue 1 Dec at 09:00"),
    phrase("on the 1st at 9", once("2026-12-01T08:00:00Z"), "on Tue 1 Dec at 09:00", BERLIN),
    phrase("on the 1st at 9", once("2026-12-01T14:00:00Z"), "on Tue 1 Dec at 09:00", NY),
    phrase("every thursday 8pm", cron("0 20 * * 4"), "every Thursday at 20:00"),
    phrase("every thursday 8pm", cron("0 20 * * 4"), "every Thursday at 20:00", BERLIN),
    phrase("weekdays at 9am", cron("0 9 * * 1-5"), "every weekday at 09:00"),
    phrase("weekdays at 9am", cron("0 9 * * 1-5"), "every weekday at 09:00", NY),
    phrase("at 9pm every day", cron("0 21 * * *"), "every day at 21:00"),
    phrase("at 9pm every day", cron("0 21 * * *"), "every day at 21:00", BERLIN),
    phrase("tonight at 8pm", once("2026-11-22T20:00:00Z"), "today at 20:00"),
    phrase("tonight at 8pm", once("2026-11-22T19:00:00Z"), "today at 20:00", BERLIN),
    phrase("tonight at 8pm", once("2026-11-23T01:00:00Z"), "today at 20:00", NY),  # 20:00 EST is 01:00 UTC
    phrase("next friday at 17:00", once("2026-11-27T17:00:00Z"), "on Fri 27 Nov at 17:00"),
    phrase("next friday at 17:00", once("2026-11-27T16:00:00Z"), "on Fri 27 Nov at 17:00", BERLIN),
    phrase("next friday at 17:00", once("2026-11-27T22:00:00Z"), "on Fri 27 Nov at 17:00", NY),
    # a day without a time: 09:00, and the reply says so
    phrase("on 24/12", once("2026-12-24T09:00:00Z"), "on Thu 24 Dec at 09:00", note=NO_TIME),
    phrase("on 24/12", once("2026-12-24T08:00:00Z"), "on Thu 24 Dec at 09:00", BERLIN, note=NO_TIME),
    phrase("on 24/12", once("2026-12-24T14:00:00Z"), "on Thu 24 Dec at 09:00", NY, note=NO_TIME),
    phrase("on 12/24", once("2026-12-24T09:00:00Z"), "on Thu 24 Dec at 09:00", note=NO_TIME),
    phrase("on 12/24", once("2026-12-24T08:00:00Z"), "on Thu 24 Dec at 09:00", BERLIN, note=NO_TIME),
    phrase("on 12/24", once("2026-12-24T14:00:00Z"), "on Thu 24 Dec at 09:00", NY, note=NO_TIME),
    phrase("every year on dec 24", cron("0 9 24 12 *"), "every year on 24 Dec at 09:00", note=NO_TIME),
    phrase("every year on dec 24", cron("0 9 24 12 *"), "every year on 24 Dec at 09:00", BERLIN, note=NO_TIME),
    phrase("every hour at :30", cron("30 * * * *"), "every hour at :30"),
    phrase("every hour at :30", cron("30 * * * *"), "every hour at :30", NY),
    phrase("every 2 days at 10:00", every(DAYS_2, "2026-11-23T10:00:00Z"), "every other day at 10:00"),
    phrase("every 2 days at 10:00", every(DAYS_2, "2026-11-23T09:00:00Z"), "every other day at 10:00", BERLIN,
           note="It repeats every 2 days (48 hours) exactly, so after the clock change it runs at 11:00 from Mon 29 Mar."),
]

# ---- more of how people write ----------------------------------------------------------------

MORE = [
    # parts of the day: a time without am/pm is read in them
    phrase("every evening at 8", cron("0 20 * * *"), "every day at 20:00"),
    phrase("every afternoon at 3", cron("0 15 * * *"), "every day at 15:00"),
    phrase("every night at 11", cron("0 23 * * *"), "every day at 23:00"),
    phrase("every night at 12", cron("0 0 * * *"), "every day at 00:00"),
    phrase("every evening at 19:30", cron("30 19 * * *"), "every day at 19:30"),
    phrase("every weekday morning at 8", cron("0 8 * * 1-5"), "every weekday at 08:00"),
    phrase("weekday mornings at 7:30", cron("30 7 * * 1-5"), "every weekday at 07:30"),
    phrase("mornings at 7", cron("0 7 * * *"), "every day at 07:00"),
    phrase("every friday night at 1", cron("0 1 * * 6"), "every Saturday at 01:00"),  # Friday night, after midnight
    phrase("every friday night at 11", cron("0 23 * * 5"), "every Friday at 23:00"),
    phrase("nightly at 2", cron("0 2 * * *"), "every day at 02:00"),
    phrase("every day at 8 in the evening", cron("0 20 * * *"), "every day at 20:00"),
    phrase("every day at 9 at night", cron("0 21 * * *"), "every day at 21:00"),
    phrase("tomorrow evening at 8", once("2026-11-23T20:00:00Z"), "tomorrow at 20:00"),
    phrase("tomorrow morning at 9", once("2026-11-23T09:00:00Z"), "tomorrow at 09:00"),
    phrase("tomorrow night at 1", once("2026-11-24T01:00:00Z"), "on Tue 24 Nov at 01:00"),
    phrase("tonight at 11", once("2026-11-22T23:00:00Z"), "today at 23:00"),
    phrase("tonight at 1am", once("2026-11-23T01:00:00Z"), "tomorrow at 01:00"),
    phrase("this evening at 7", once("2026-11-22T19:00:00Z"), "today at 19:00"),
    # repeat words, and a repetition after the time
    phrase("daily at noon", cron("0 12 * * *"), "every day at 12:00"),
    phrase("hourly", cron("0 * * * *"), "every hour"),
    phrase("hourly at half past", cron("30 * * * *"), "every hour at :30"),
    phrase("every hour on the hour", cron("0 * * * *"), "every hour at :00"),
    phrase("every hour at quarter to", cron("45 * * * *"), "every hour at :45"),
    phrase("every hour at 20 minutes past the hour", cron("20 * * * *"), "every hour at :20"),
    phrase("every 2 hours at :15", cron("15 */2 * * *"), "every 2 hours at :15"),
    phrase("every 15 minutes at :05", cron("5,20,35,50 * * * *"), "every 15 minutes from :05"),
    phrase("weekly on monday at 9", cron("0 9 * * 1"), "every Monday at 09:00"),
    phrase("every week on friday at 18:00", cron("0 18 * * 5"), "every Friday at 18:00"),
    phrase("monthly on the 1st at 9", cron("0 9 1 * *"), "every month on the 1st at 09:00"),
    phrase("monthly on the last day at 9", cron("0 9 L * *"), "every month on the last day at 09:00"),
    phrase("every first of the month at 9", cron("0 9 1 * *"), "every month on the 1st at 09:00"),
    phrase("every last day of the month at 18:00", cron("0 18 L * *"), "every month on the last day at 18:00"),
    phrase("every 15th at 9", cron("0 9 15 * *"), "every month on the 15th at 09:00"),
    phrase("on the 1st of every month at 9", cron("0 9 1 * *"), "every month on the 1st at 09:00"),
    phrase("at 8 on weekdays", cron("0 8 * * 1-5"), "every weekday at 08:00"),
    phrase("at 9 every monday", cron("0 9 * * 1"), "every Monday at 09:00"),
    phrase("at 7 daily", cron("0 7 * * *"), "every day at 07:00"),
    phrase("at 8 every evening", cron("0 20 * * *"), "every day at 20:00"),
    phrase("at 9 and 21 every day", cron("0 9,21 * * *"), "every day at 09:00 and 21:00"),
    phrase("9pm every day", cron("0 21 * * *"), "every day at 21:00"),
    phrase("mondays and thursdays at 20:30", cron("30 20 * * 1,4"), "every Monday and Thursday at 20:30"),
    phrase("on mondays at 9", cron("0 9 * * 1"), "every Monday at 09:00"),
    phrase("on weekdays at 9", cron("0 9 * * 1-5"), "every weekday at 09:00"),
    phrase("mon-fri at 7", cron("0 7 * * 1-5"), "every weekday at 07:00"),
    phrase("weekends at 10am", cron("0 10 * * 0,6"), "every weekend at 10:00"),
    phrase("every day 9:00", cron("0 9 * * *"), "every day at 09:00"),
    # every other / every N days and weeks: anchored intervals (the first run is shown)
    phrase("every other monday at 19:00", every(WEEKS_2, "2026-11-23T19:00:00Z"), "every other Monday at 19:00"),
    phrase("every other week on tuesday at 9", every(WEEKS_2, "2026-11-24T09:00:00Z"), "every other Tuesday at 09:00"),
    phrase("every 2 weeks on friday at 18:00", every(WEEKS_2, "2026-11-27T18:00:00Z"), "every other Friday at 18:00"),
    phrase("every 3 weeks on sunday at 18:00", every(3 * 7 * 86400, "2026-11-22T18:00:00Z"),
           "every 3 weeks on Sunday at 18:00"),
    phrase("every 3 days at 9", every(3 * 86400, "2026-11-23T09:00:00Z"), "every 3 days at 09:00"),
    phrase("every third day at 9", every(3 * 86400, "2026-11-23T09:00:00Z"), "every 3 days at 09:00"),
    phrase("every second day at 18:00", every(DAYS_2, "2026-11-22T18:00:00Z"), "every other day at 18:00"),
    phrase("every 2nd day at 18:00", every(DAYS_2, "2026-11-22T18:00:00Z"), "every other day at 18:00"),
    phrase("at 10 every other day", every(DAYS_2, "2026-11-23T10:00:00Z"), "every other day at 10:00"),
    phrase("every 7 days at 9", cron("0 9 * * 1"), "every Monday at 09:00"),  # a week: the weekly cron on that day
    phrase("every 1 day at 9", cron("0 9 * * *"), "every day at 09:00"),
    phrase("every other hour", cron("0 */2 * * *"), "every 2 hours"),
    phrase("every other day", {"schedule_type": "interval", "interval_seconds": DAYS_2}, "every 2 days"),
    phrase("every other week", {"schedule_type": "interval", "interval_seconds": WEEKS_2}, "every 2 weeks"),
    # one-time days
    phrase("monday at 9", once("2026-11-23T09:00:00Z"), "tomorrow at 09:00"),
    phrase("friday 8pm", once("2026-11-27T20:00:00Z"), "on Fri 27 Nov at 20:00"),
    phrase("next sunday at 9", once("2026-11-29T09:00:00Z"), "on Sun 29 Nov at 09:00"),
    phrase("next sunday at 18:00", once("2026-11-29T18:00:00Z"), "on Sun 29 Nov at 18:00"),  # never today
    phrase("this friday at 5pm", once("2026-11-27T17:00:00Z"), "on Fri 27 Nov at 17:00"),
    phrase("on the 15th at 9", once("2026-12-15T09:00:00Z"), "on Tue 15 Dec at 09:00"),
    phrase("on the 22nd at 18:00", once("2026-11-22T18:00:00Z"), "today at 18:00"),
    phrase("on the 22nd at 9", once("2026-12-22T09:00:00Z"), "on Tue 22 Dec at 09:00"),
    phrase("on the 31st at 9", once("2026-12-31T09:00:00Z"), "on Thu 31 Dec at 09:00"),  # November has no 31st
    phrase("dec 24 at 18:00", once("2026-12-24T18:00:00Z"), "on Thu 24 Dec at 18:00"),
    phrase("24th december at 9", once("2026-12-24T09:00:00Z"), "on Thu 24 Dec at 09:00"),
    phrase("the 1st at 9", once("2026-12-01T09:00:00Z"), "on Tue 1 Dec at 09:00"),
    phrase("18:00 tomorrow", once("2026-11-23T18:00:00Z"), "tomorrow at 18:00"),
    phrase("noon tomorrow", once("2026-11-23T12:00:00Z"), "tomorrow at 12:00"),
    phrase("tomorrow at 8 in the evening", once("2026-11-23T20:00:00Z"), "tomorrow at 20:00"),
    phrase("tomorrow", once("2026-11-23T09:00:00Z"), "tomorrow at 09:00", note=NO_TIME),
    phrase("on friday", once("2026-11-27T09:00:00Z"), "on Fri 27 Nov at 09:00", note=NO_TIME),
    phrase("on the 24th of december", once("2026-12-24T09:00:00Z"), "on Thu 24 Dec at 09:00", note=NO_TIME),
    # numeric dates: the reading that is a date, and dots (day first) and years
    phrase("on 24.12.", once("2026-12-24T09:00:00Z"), "on Thu 24 Dec at 09:00", note=NO_TIME),
    phrase("on 24.12.2026 at 18:00", once("2026-12-24T18:00:00Z"), "on Thu 24 Dec at 18:00"),
    phrase("on 12/24/2026 at 18:00", once("2026-12-24T18:00:00Z"), "on Thu 24 Dec at 18:00"),
    phrase("on 24/12/26 at 18:00", once("2026-12-24T18:00:00Z"), "on Thu 24 Dec at 18:00"),
    phrase("on 2026/12/24 at 18:00", once("2026-12-24T18:00:00Z"), "on Thu 24 Dec at 18:00"),
    phrase("on 05/05 at 9", once("2027-05-05T09:00:00Z"), "on Wed 5 May 2027 at 09:00"),  # same both ways
    phrase("on 1/3 at 9", once("2027-03-01T09:00:00Z"), "on Mon 1 Mar 2027 at 09:00", order="dmy"),
    phrase("on 1/3 at 9", once("2027-01-03T09:00:00Z"), "on Sun 3 Jan 2027 at 09:00", order="mdy"),
    # yearly
    phrase("every year on 24/12", cron("0 9 24 12 *"), "every year on 24 Dec at 09:00", note=NO_TIME),
    phrase("every 24/12 at 9", cron("0 9 24 12 *"), "every year on 24 Dec at 09:00"),
    phrase("every dec 24 at 18:00", cron("0 18 24 12 *"), "every year on 24 Dec at 18:00"),
    phrase("every 24th of december at 9", cron("0 9 24 12 *"), "every year on 24 Dec at 09:00"),
    phrase("annually on dec 24 at 18:00", cron("0 18 24 12 *"), "every year on 24 Dec at 18:00"),
    phrase("yearly on feb 29 at 12", cron("0 12 29 2 *"), "every year on 29 Feb at 12:00"),
    # options around the new forms
    phrase("every other day at 10:00 until 24/12", {**every(DAYS_2, "2026-11-23T10:00:00Z"),
                                                    "end_date": "2026-12-24T23:59:59Z"}, "every other day at 10:00"),
]

# ---- the community's date order ----------------------------------------------------------------

DATE_ORDER = [
    # 01/02 reads both ways: the zone's usual order, or the one set
    phrase("on 01/02 at 9", once("2027-02-01T08:00:00Z"), "on Mon 1 Feb 2027 at 09:00", BERLIN),
    phrase("on 01/02 at 9", once("2027-01-02T14:00:00Z"), "on Sat 2 Jan 2027 at 09:00", NY),
    phrase("on 01/02 at 9", once("2027-01-02T00:00:00Z"), "on Sat 2 Jan 2027 at 09:00", "Asia/Tokyo"),
    phrase("on 01/02 at 9", once("2027-02-01T12:00:00Z"), "on Mon 1 Feb 2027 at 09:00", "America/Sao_Paulo"),
    phrase("on 01/02 at 9", once("2027-02-01T14:00:00Z"), "on Mon 1 Feb 2027 at 09:00", NY, order="dmy"),
    phrase("on 01/02 at 9", once("2027-01-02T09:00:00Z"), "on Sat 2 Jan 2027 at 09:00", order="mdy"),
    phrase("every year on 01/02 at 9", cron("0 9 1 2 *"), "every year on 1 Feb at 09:00", BERLIN),
    phrase("every 01/02 at 9", cron("0 9 2 1 *"), "every year on 2 Jan at 09:00", NY),
    # 24/12 and 12/24 read one way whatever the order
    phrase("on 12/24 at 18:00", once("2026-12-24T17:00:00Z"), "on Thu 24 Dec at 18:00", BERLIN),
    phrase("on 24/12 at 18:00", once("2026-12-24T23:00:00Z"), "on Thu 24 Dec at 18:00", NY),
]

# ---- next to daylight-saving changes -------------------------------------------------------------

DST = [
    # Berlin springs forward on Sun 28 Mar 2027 02:00 -> 03:00; now is Sat 27 Mar 13:00 CET
    phrase("every other day at 10:00", every(DAYS_2, "2027-03-28T08:00:00Z"), "every other day at 10:00", BERLIN,
           now=utc(2027, 3, 27, 12),
           note="It repeats every 2 days (48 hours) exactly, so after the clock change it runs at 09:00 from Mon 1 Nov."),
    # 02:30 does not exist on the 28th: the grid starts on the 29th at 02:30 CEST, not at 03:00
    phrase("every other day at 2:30", every(DAYS_2, "2027-03-29T00:30:00Z"), "every other day at 02:30", BERLIN,
           now=utc(2027, 3, 27, 12),
           note="It repeats every 2 days (48 hours) exactly, so after the clock change it runs at 01:30 from Tue 2 Nov."),
    phrase("every other sunday at 2:30", every(WEEKS_2, "2027-04-04T00:30:00Z"), "every other Sunday at 02:30", BERLIN,
           now=utc(2027, 3, 27, 12),
           note="It repeats every 14 days (336 hours) exactly, so after the clock change it runs at 01:30 from Sun 14 Nov."),
    phrase("every morning at 2:30", cron("30 2 * * *"), "every day at 02:30", BERLIN, now=utc(2027, 3, 27, 12)),
    phrase("every morning at 12:30", cron("30 0 * * *"), "every day at 00:30"),
    phrase("tomorrow at 2:30", once("2027-03-28T01:00:00Z"), "tomorrow at 03:00", BERLIN, now=utc(2027, 3, 27, 12)),
    # New York springs forward on Sun 14 Mar 2027; tonight at 2:30 is tomorrow's 02:30, which is 03:00 EDT
    phrase("tonight at 2:30", once("2027-03-14T07:00:00Z"), "tomorrow at 03:00", NY, now=utc(2027, 3, 13, 23)),
    # ...and falls back on Sun 7 Nov 2027: 01:30 happens twice, the first (EDT) is meant
    phrase("tonight at 1:30", once("2027-11-07T05:30:00Z"), "tomorrow at 01:30", NY, now=utc(2027, 11, 6, 22)),
    # an interval does not start in the repeated hour: it starts the next day, 01:30 EST, as all winter
    phrase("every other day at 1:30", every(DAYS_2, "2027-11-08T06:30:00Z"), "every other day at 01:30", NY,
           now=utc(2027, 11, 6, 22),
           note="It repeats every 2 days (48 hours) exactly, so after the clock change it runs at 02:30 from Mon 13 Mar."),
    # tonight at 1, typed after midnight, is in an hour, not the next night
    phrase("tonight at 1", once("2026-11-23T01:00:00Z"), "today at 01:00", now=utc(2026, 11, 23, 0, 10)),
    # Sydney is in summer time in November and falls back on Sun 4 Apr 2027
    phrase("every other day at 10:00", every(DAYS_2, "2026-11-22T23:00:00Z"), "every other day at 10:00", SYDNEY,
           note="It repeats every 2 days (48 hours) exactly, so after the clock change it runs at 09:00 from Sun 4 Apr."),
    # a zone without daylight saving: no note
    phrase("every other day at 10:00", every(DAYS_2, "2026-11-23T01:00:00Z"), "every other day at 10:00",
           "Asia/Tokyo"),
]


@pytest.mark.parametrize("p", ISSUE + MORE + DATE_ORDER + DST)
def test_phrase_becomes_its_schedule(p: Phrase) -> None:
    command = parse_command(f"add {p.when} say hi", now=p.now, timezone=p.zone, date_order=p.order)
    assert isinstance(command, Add)
    assert schedule_spec(command) == {**p.spec, "timezone": p.zone}
    assert command.when.text == p.text
    assert command.when.note == p.note
    assert command.say == "hi"
    _check_add_invariants(command, p.now)


@pytest.mark.parametrize(("when", "zone", "now", "first_runs"), [
    # the second Tuesday at 19:00 in Berlin, winter (UTC+1) and summer (UTC+2); read on that Tuesday
    # before 19:00 it is that evening
    ("every second tuesday of the month at 19:00", BERLIN, utc(2027, 3, 9, 12),
     [utc(2027, 3, 9, 18), utc(2027, 4, 13, 17), utc(2027, 5, 11, 17), utc(2027, 6, 8, 17)]),
    # every other day crosses month and year ends 48 hours apart (cron's */2 would run the 31st and the 1st)
    ("every other day at 10:00", "UTC", utc(2026, 12, 27, 12),
     [utc(2026, 12, 28, 10), utc(2026, 12, 30, 10), utc(2027, 1, 1, 10), utc(2027, 1, 3, 10)]),
    ("every other day at 10:00", "UTC", utc(2027, 1, 28, 12),
     [utc(2027, 1, 29, 10), utc(2027, 1, 31, 10), utc(2027, 2, 2, 10), utc(2027, 2, 4, 10)]),
    # in Berlin it keeps 10:00 CEST after the spring change it was made behind
    ("every other day at 10:00", BERLIN, utc(2027, 3, 25, 12),
     [utc(2027, 3, 26, 9), utc(2027, 3, 28, 9), utc(2027, 3, 30, 9)]),
    ("every other monday at 19:00", BERLIN, NOW,
     [utc(2026, 11, 23, 18), utc(2026, 12, 7, 18), utc(2026, 12, 21, 18), utc(2027, 1, 4, 18)]),
    # the cron forms keep their wall time across the change
    ("every evening at 8", BERLIN, utc(2027, 3, 27, 12), [utc(2027, 3, 27, 19), utc(2027, 3, 28, 18)]),
    ("every year on 29/02 at 12", "UTC", NOW, [utc(2028, 2, 29, 12), utc(2032, 2, 29, 12)]),
    ("every 15 minutes at :05", "UTC", NOW, [utc(2026, 11, 22, 12, 5), utc(2026, 11, 22, 12, 20)]),
])
def test_the_schedule_runs_when_the_phrase_says(when: str, zone: str, now: datetime,
                                                 first_runs: list[datetime]) -> None:
    command = parse_command(f"add {when} say hi", now=now, timezone=zone)
    assert isinstance(command, Add)
    w = command.when
    rule = TimeRule(ScheduleType(w.schedule_type), zone, w.cron_expression, w.interval_seconds, w.scheduled_time,
                    start_date=w.start, anchor=w.start or now, rrule=w.rrule)
    assert occurrences(rule, now, len(first_runs)) == first_runs


REFUSED = [
    # (when, zone, the message it must match, the word it names)
    ("every morning", "UTC", r"At what time in the morning\? .*Try: !schedule add every morning at 8", "say"),
    ("every evening", BERLIN, r"At what time in the evening\?", "say"),
    ("every weekday morning", "UTC", r"At what time in the morning\?", "say"),
    ("daily", "UTC", r"At what time\? .*Try: !schedule add every day at 18:00", "say"),
    ("today", "UTC", r"At what time today\?", None),
    ("tonight", "UTC", r"At what time tonight\?", None),
    ("tomorrow evening", "UTC", r"At what time tomorrow evening\?", None),
    ("on friday morning", "UTC", r"At what time on Friday morning\?", None),
    ("every evening at 8am", "UTC", r'"8am" is not in the evening', "8am"),
    ("every morning at 20:00", "UTC", r'"20:00" is not in the morning', "20:00"),
    ("tonight at 3pm", "UTC", r'"3pm" is not at night', "3pm"),
    ("on 01/02 at 9", "UTC", r'Is "01/02" 1 Feb or Jan 2\? .*!schedule dateorder dmy .*Try: !schedule dateorder dmy',
     "01/02"),
    ("on 01/02 at 9", "America/Toronto", r'Is "01/02" 1 Feb or Jan 2\?', "01/02"),
    ("every 3/4 at 9", "UTC", r'Is "3/4" 3 Apr or Mar 4\?', "3/4"),
    ("on 31/04", "UTC", r'"31/04" is not a date', "31/04"),
    ("on 13/13 at 9", "UTC", r'"13/13" is not a date', "13/13"),
    ("on 0/5 at 9", "UTC", r'"0/5" is not a date', "0/5"),
    ("every year", "UTC", r"On which day of the year\? .*Try: !schedule add every year on dec 24", None),
    ("every year on friday at 9", "UTC", r'Every year goes with a day and a month, like dec 24, not "Friday"', "friday"),
    ("every other month", "UTC", r"Every other what\? .*Try: !schedule add every other day at 10:00", "other"),
    ("every other day at 9 and 21", "UTC", r"Every 2 days goes with one time of day", "other"),
    ("every other week on mon and thu at 9", "UTC", r"Every 2 weeks goes with one day", "on"),
    ("every 90 minutes at :15", "UTC", r"A minute past the hour goes with every hour", "90"),
    ("every hour at :75", "UTC", r"An hour has minutes :00 to :59, not :75", ":75"),
    ("every 2 hours at 9", "UTC", r"A time of day does not go with every 2 hours", "2"),
    ("at 9 and 10 tomorrow", "UTC", r"A one-time schedule has one time", "10"),
    ("tonight at 8pm tomorrow", "UTC", r"You gave the day twice", "tomorrow"),
    ("at 9 every day at 10", "UTC", r"You gave the time twice", "at"),
    ("next week at 9", "UTC", r"Next what\? Name the day, like next friday at 17:00", "next"),
    ("every morning", "UTC", r"Try: !schedule add every morning at 8 say Good morning!", "say"),
]


@pytest.mark.parametrize(("when", "zone", "pattern", "word"), REFUSED, ids=[f"{w} [{z}]" for w, z, *_ in REFUSED])
def test_what_cannot_be_read_asks_back_with_an_example(when: str, zone: str, pattern: str, word: str | None) -> None:
    with pytest.raises(ChatParseError, match=pattern) as caught:
        parse_command(f"add {when} say hi", now=NOW, timezone=zone)
    assert caught.value.word == word
    assert " Try: !schedule " in caught.value.message and len(caught.value.message) < 300


def test_every_morning_never_means_monday() -> None:
    """The issue's "did you mean mon?": no reading of a part of the day names a weekday."""
    for text in ("every morning at 8", "every mornings at 8", "mornings at 8"):
        command = parse_command(f"add {text} say hi", now=NOW)
        assert isinstance(command, Add) and command.when.cron_expression == "0 8 * * *"


def test_everything_after_say_is_the_message_exactly() -> None:
    message = '  at 9pm every day "quoted" it\'s  24/12 — tonight!  '
    for when in ("every other day at 10:00", "tonight at 8pm", "on 24/12", "weekdays at 9am"):
        command = parse_command(f"add {when} say{message}", now=NOW)
        assert isinstance(command, Add) and command.say == message.strip()


@pytest.mark.parametrize(("text", "expected"), [
    ("list", List(1)),
    ("list 2", List(2)),
    ("ls 3", List(3)),
    ("list page 2", List(2)),
    ("dateorder", DateOrder()),
    ("dateorder dmy", SetDateOrder("dmy")),
    ("dateorder MDY", SetDateOrder("mdy")),
    ("date-order dd/mm", SetDateOrder("dmy")),
    ("dateorder mm/dd", SetDateOrder("mdy")),
    ("dateorder auto", SetDateOrder(None)),
])
def test_list_pages_and_date_order_commands(text: str, expected: Any) -> None:
    assert parse_command(text, now=NOW) == expected


def test_a_wrong_date_order_names_the_choices() -> None:
    with pytest.raises(ChatParseError, match=r'I don\'t know the date order "ymd" .*use dmy .* mdy .* or auto'):
        parse_command("dateorder ymd", now=NOW)


def test_the_time_zone_order_is_only_a_default() -> None:
    """A setting wins over the zone, and `until` reads numeric dates the same way."""
    command = parse_command("add every day at 9 until 01/02 say hi", now=NOW, timezone=NY)
    assert isinstance(command, Add) and command.until == utc(2027, 1, 3, 4, 59, 59)  # end of 2 Jan in New York
    command = parse_command("add every day at 9 until 01/02 say hi", now=NOW, timezone=NY, date_order="dmy")
    assert isinstance(command, Add) and command.until == utc(2027, 2, 2, 4, 59, 59)  # end of 1 Feb
    assert NOW + timedelta(days=365) > command.until
