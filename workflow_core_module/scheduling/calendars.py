"""Calendars: days on which a schedule does not run. Pure.

A calendar names days in its own time zone: weekends (``weekdays_only``), listed dates and
date ranges (``excluded_dates``), and public holidays of a country or one of its subdivisions,
computed by the ``holidays`` package. A schedule with a calendar has no occurrence on those
days: the occurrence computation (``occurrences.py``) asks :meth:`CalendarRule.skip` about
the calendar-zone date of each candidate and jumps past the excluded days.

:func:`validate_calendar` checks a calendar request; :class:`CalendarRule` is the part the
occurrence computation needs, a frozen value kept on each schedule that uses the calendar.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

import holidays as holidays_package

from .types import as_utc
from .zones import canonical_zone, suggest_zone

MAX_CALENDAR_NAME_CHARS = 100
MAX_EXCLUDED = 200  # entries of excluded_dates (a date or a range each)
MAX_RANGE_DAYS = 366  # the longest one range may be
MAX_COMMUNITY_CHARS = 100
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FIELDS = frozenset({"name", "community_id", "timezone", "weekdays_only", "excluded_dates", "holidays"})


class CalendarError(ValueError):
    """One or more fields of a calendar are wrong. `errors` maps field name -> what is wrong."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


@lru_cache(maxsize=256)
def _holidays(country: str, subdivision: str | None, year: int) -> dict[date, str]:
    found = holidays_package.country_holidays(country, subdiv=subdivision, years=year, language="en_US")
    return {day: str(name) for day, name in found.items()}


@lru_cache(maxsize=1)
def _supported() -> dict[str, tuple[str, ...]]:
    return {code: tuple(subdivisions) for code, subdivisions in holidays_package.list_supported_countries().items()}


@dataclass(frozen=True, slots=True)
class CalendarRule:
    """What the occurrence computation needs of a calendar. Ranges are sorted, merged and
    inclusive; `holidays` is (country, subdivision or None)."""

    calendar_id: str
    timezone: str = "UTC"
    weekdays_only: bool = False
    ranges: tuple[tuple[date, date], ...] = ()
    holidays: tuple[str, str | None] | None = None

    def skip(self, day: date) -> tuple[date, str] | None:
        """None when `day` may hold occurrences; else (the first later day that may, why not this one)."""
        for first, last in self.ranges:
            if first <= day <= last:
                shown = first.isoformat() if first == last else f"{first.isoformat()} to {last.isoformat()}"
                return last + timedelta(days=1), f"excluded date ({shown})"
            if first > day:
                break
        if self.weekdays_only and day.weekday() >= 5:
            return day + timedelta(days=7 - day.weekday()), "weekend (weekdays only)"
        if self.holidays is not None:
            name = _holidays(self.holidays[0], self.holidays[1], day.year).get(day)
            if name is not None:
                where = self.holidays[0] + (f"-{self.holidays[1]}" if self.holidays[1] else "")
                return day + timedelta(days=1), f"holiday: {name} ({where})"
        return None

    def as_json(self) -> dict[str, Any]:
        """The form kept on a schedule's row (``calendar_spec``)."""
        return {
            "calendar_id": self.calendar_id,
            "timezone": self.timezone,
            "weekdays_only": self.weekdays_only,
            "ranges": [[a.isoformat(), b.isoformat()] for a, b in self.ranges],
            "holidays": None if self.holidays is None else {"country": self.holidays[0],
                                                            "subdivision": self.holidays[1]},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CalendarRule:
        found = data.get("holidays")
        return cls(
            calendar_id=str(data.get("calendar_id") or ""),
            timezone=str(data.get("timezone") or "UTC"),
            weekdays_only=bool(data.get("weekdays_only")),
            ranges=tuple((date.fromisoformat(a), date.fromisoformat(b)) for a, b in data.get("ranges") or ()),
            holidays=None if not found else (str(found["country"]), found.get("subdivision")),
        )


@dataclass(frozen=True, slots=True)
class CalendarFields:
    """A calendar as a user sets it, validated and normalised."""

    name: str
    community_id: str | None
    timezone: str
    weekdays_only: bool
    excluded_dates: tuple[str | dict[str, str], ...]  # as given, normalised: "YYYY-MM-DD" or {"from", "to"}
    holidays: dict[str, str | None] | None

    def rule(self, calendar_id: str) -> CalendarRule:
        ranges: list[tuple[date, date]] = []
        for entry in self.excluded_dates:
            if isinstance(entry, str):
                day = date.fromisoformat(entry)
                ranges.append((day, day))
            else:
                ranges.append((date.fromisoformat(entry["from"]), date.fromisoformat(entry["to"])))
        merged: list[tuple[date, date]] = []
        for first, last in sorted(ranges):
            if merged and first <= merged[-1][1] + timedelta(days=1):
                merged[-1] = (merged[-1][0], max(merged[-1][1], last))
            else:
                merged.append((first, last))
        found = self.holidays
        return CalendarRule(calendar_id, self.timezone, self.weekdays_only, tuple(merged),
                            None if found is None else (str(found["country"]), found.get("subdivision")))

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "community_id": self.community_id, "timezone": self.timezone,
                "weekdays_only": self.weekdays_only, "excluded_dates": list(self.excluded_dates),
                "holidays": self.holidays}


def validate_calendar(data: Mapping[str, Any]) -> CalendarFields:
    """Check a whole calendar (POST, PUT). Raises :class:`CalendarError` naming each wrong field."""
    if not isinstance(data, Mapping):
        raise CalendarError({"body": "expected a JSON object"})
    errors = {name: "unknown field" for name in sorted(set(data) - _FIELDS)}
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        errors["name"] = "required: a non-empty string"
    elif len(name.strip()) > MAX_CALENDAR_NAME_CHARS:
        errors["name"] = f"at most {MAX_CALENDAR_NAME_CHARS} characters, got {len(name.strip())}"
    elif any(ord(c) < 32 for c in name):
        errors["name"] = "must not contain control characters"
    community = data.get("community_id")
    if community is not None and (not isinstance(community, str) or len(community) > MAX_COMMUNITY_CHARS
                                  or any(ord(c) < 32 for c in community)):
        errors["community_id"] = f"expected a string of at most {MAX_COMMUNITY_CHARS} characters"
    zone = data.get("timezone", "UTC")
    canonical = canonical_zone(zone) if isinstance(zone, str) else None
    if canonical is None:
        hint = suggest_zone(zone) if isinstance(zone, str) else None
        errors["timezone"] = f"unknown time zone {str(zone)[:64]!r}" + (f"; did you mean {hint!r}?" if hint else "")
    weekdays_only = data.get("weekdays_only", False)
    if not isinstance(weekdays_only, bool):
        errors["weekdays_only"] = "expected true or false"
    excluded = _excluded(data.get("excluded_dates"), errors)
    found = _holidays_field(data.get("holidays"), errors)
    if errors:
        raise CalendarError(errors)
    assert isinstance(name, str)
    return CalendarFields(name.strip(), community or None, canonical or "UTC", bool(weekdays_only), excluded, found)


def _day(value: Any) -> date | None:
    if not isinstance(value, str) or not _DATE.match(value):
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    return day if 1970 <= day.year <= 9998 else None


def _excluded(value: Any, errors: dict[str, str]) -> tuple[str | dict[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        errors["excluded_dates"] = "expected a list of dates (YYYY-MM-DD) or ranges ({\"from\", \"to\"})"
        return ()
    if len(value) > MAX_EXCLUDED:
        errors["excluded_dates"] = f"at most {MAX_EXCLUDED} dates or ranges, got {len(value)}"
        return ()
    out: list[str | dict[str, str]] = []
    for index, entry in enumerate(value):
        where = f"entry {index + 1}"
        if isinstance(entry, str):
            day = _day(entry)
            if day is None:
                errors["excluded_dates"] = f"{where}: {entry[:40]!r} is not a date YYYY-MM-DD (years 1970-9998)"
                return ()
            out.append(day.isoformat())
        elif isinstance(entry, Mapping):
            if set(entry) != {"from", "to"}:
                errors["excluded_dates"] = f"{where}: a range has exactly the keys \"from\" and \"to\""
                return ()
            first, last = _day(entry["from"]), _day(entry["to"])
            if first is None or last is None:
                errors["excluded_dates"] = f"{where}: from and to must be dates YYYY-MM-DD (years 1970-9998)"
                return ()
            if last < first:
                errors["excluded_dates"] = f"{where}: to ({last}) is before from ({first})"
                return ()
            if (last - first).days + 1 > MAX_RANGE_DAYS:
                errors["excluded_dates"] = f"{where}: a range spans at most {MAX_RANGE_DAYS} days, " \
                                           f"this one {(last - first).days + 1}"
                return ()
            out.append({"from": first.isoformat(), "to": last.isoformat()})
        else:
            errors["excluded_dates"] = f"{where}: expected a date YYYY-MM-DD or {{\"from\", \"to\"}}"
            return ()
    return tuple(out)


def _holidays_field(value: Any, errors: dict[str, str]) -> dict[str, str | None] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not set(value) <= {"country", "subdivision"} or "country" not in value:
        errors["holidays"] = "expected {\"country\": \"DE\", \"subdivision\": \"BY\"} (subdivision optional)"
        return None
    country, subdivision = value.get("country"), value.get("subdivision")
    supported = _supported()
    if not isinstance(country, str) or country.upper() not in supported:
        errors["holidays"] = f"unknown country {str(country)[:20]!r}; use an ISO 3166-1 code the holidays " \
                             "package knows, like 'DE' or 'US'"
        return None
    code = country.upper()
    if subdivision is not None:
        known = supported[code]
        match = next((s for s in known if isinstance(subdivision, str) and s.upper() == subdivision.upper()), None)
        if match is None:
            shown = ", ".join(known[:40]) or "none"
            errors["holidays"] = f"unknown subdivision {str(subdivision)[:20]!r} of {code}; known: {shown}"
            return None
        subdivision = match
    return {"country": code, "subdivision": subdivision}


@dataclass(frozen=True, slots=True)
class Calendar:
    id: int
    calendar_id: str
    fields: CalendarFields
    created_by: str
    created_at: datetime
    updated_at: datetime

    @property
    def community_id(self) -> str | None:
        return self.fields.community_id

    def rule(self) -> CalendarRule:
        return self.fields.rule(self.calendar_id)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Calendar:
        found = row.get("holidays")
        return cls(
            id=int(row["id"]), calendar_id=row["calendar_id"],
            fields=CalendarFields(
                name=row["name"], community_id=row.get("community_id"), timezone=row.get("timezone") or "UTC",
                weekdays_only=bool(row.get("weekdays_only")),
                excluded_dates=tuple(row.get("excluded_dates") or ()),
                holidays=dict(found) if found else None),
            created_by=row.get("created_by") or "", created_at=as_utc(row["created_at"]),
            updated_at=as_utc(row["updated_at"]),
        )
