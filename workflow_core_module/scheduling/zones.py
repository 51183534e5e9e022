"""Time zones: one home for reading a wall time in a zone, and for naming zones.

The daylight-saving rule, used by cron, the REST API and chat alike: a wall time that happens
twice (fall back) is its first reading; a wall time that does not exist (spring forward) is the
first instant after the gap. Zone names are IANA names in any case (``europe/berlin`` is
``Europe/Berlin``); names whose meaning depends on the host (``localtime``, ``posix/...``,
``right/...``) are refused.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from difflib import get_close_matches
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from .types import UTC

_ZONE_SHAPE = re.compile(r"[A-Za-z0-9_+\-/]{1,64}")
_HOST_DEPENDENT = frozenset({"localtime", "posixrules", "factory"})


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The zone named `name` (an IANA name already checked by canonical_zone or validation)."""
    return ZoneInfo(name)


def local(instant: datetime, name: str) -> datetime:
    """`instant` as wall time in the zone named `name` (aware, in that zone)."""
    return instant.astimezone(zone(name))


def offset(zone: ZoneInfo, instant: datetime) -> timedelta:
    value = instant.astimezone(zone).utcoffset()
    assert value is not None
    return value


def transition(zone: ZoneInfo, lo: datetime, hi: datetime) -> datetime:
    """The first whole-second instant in (lo, hi] whose UTC offset is the offset at `hi`."""
    target = offset(zone, hi)
    lo_s, hi_s = int(lo.timestamp()), int(hi.timestamp())
    while hi_s - lo_s > 1:
        mid = (lo_s + hi_s) // 2
        if offset(zone, datetime.fromtimestamp(mid, UTC)) == target:
            hi_s = mid
        else:
            lo_s = mid
    return datetime.fromtimestamp(hi_s, UTC)


def wall_to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    """The instant of naive wall time `wall` in `zone`, by the rule above (aware UTC)."""
    wall = wall.replace(tzinfo=None)
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return transition(zone, min(first, second), max(first, second))


@lru_cache(maxsize=1)
def _names() -> dict[str, str]:
    """Lower-cased IANA name -> its canonical spelling, host-dependent names left out."""
    return {name.lower(): name for name in available_timezones()
            if name.lower() not in _HOST_DEPENDENT and not name.lower().startswith(("posix/", "right/"))}


def canonical_zone(text: str) -> str | None:
    """The IANA spelling of `text` (any case), if it names a zone that loads here."""
    if not isinstance(text, str) or not _ZONE_SHAPE.fullmatch(text.strip()):
        return None
    name = _names().get(text.strip().lower())
    if name is None:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None
    return name


def suggest_zone(text: str) -> str | None:
    """A zone `text` probably meant: "berlin" -> "Europe/Berlin", "Europe/Berln" -> "Europe/Berlin"."""
    low = text.strip().lower() if isinstance(text, str) else ""
    if not low or len(low) > 64:
        return None
    by_city = sorted(name for key, name in _names().items() if "/" in key and key.rsplit("/", 1)[-1] == low)
    if by_city:
        return by_city[0]
    close = get_close_matches(low, list(_names()), n=1, cutoff=0.8)
    return _names()[close[0]] if close else None
