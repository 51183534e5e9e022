"""A community's settings for chat and the rules for their values: the platform, the managers
(chat user ids), the community id, the order of a date like 01/02. Pure; the store, the API, the
CLI and the chat commands all check with these."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from ..config import CHAT_PLATFORMS
from ..errors import Invalid, LimitExceeded

PLATFORMS = CHAT_PLATFORMS  # the platforms WaddleBot's router knows
"""The chat platforms a community can be on (what the router's send endpoint is told)."""
MAX_MANAGERS = 500
MAX_USER_ID_CHARS = 100
MAX_COMMUNITY_ID_CHARS = 100
DATE_ORDERS = ("dmy", "mdy")
"""How chat reads a numeric date whose two numbers could both be a month: 01/02 is 1 February
(``dmy``) or January 2 (``mdy``)."""


@dataclass(frozen=True, slots=True)
class Community:
    community_id: str
    timezone: str = "UTC"
    managers: tuple[str, ...] = ()
    platform: str | None = None  # one of PLATFORMS, or None when nobody has set it
    date_order: str | None = None  # one of DATE_ORDERS, or None: the default of the zone

    @property
    def reads_dates(self) -> str | None:
        """The date order chat reads 01/02 with: the one set here, else the zone's usual one
        (None: the zone has no single usual order, so chat asks)."""
        return self.date_order or default_date_order(self.timezone)


def check_platform(value: str) -> str:
    """`value` as one of :data:`PLATFORMS` (any case, outer spaces ignored), else Invalid."""
    name = value.strip().lower() if isinstance(value, str) else ""
    if name not in PLATFORMS:
        raise Invalid({"platform": f"must be one of {', '.join(PLATFORMS)}"})
    return name


def user_id_problem(user_id: str) -> str | None:
    """What is wrong with `user_id` as a manager's chat user id, or None when it is fine."""
    if not isinstance(user_id, str) or not user_id:
        return "a user id must not be empty"
    if len(user_id) > MAX_USER_ID_CHARS:
        return f"a user id has at most {MAX_USER_ID_CHARS} characters"
    if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in user_id):
        return "a user id has no spaces or control characters"
    return None


def check_community_id(community_id: str) -> None:
    if not 1 <= len(community_id) <= MAX_COMMUNITY_ID_CHARS:
        raise Invalid({"community_id": f"1-{MAX_COMMUNITY_ID_CHARS} characters"})


def check_user_ids(user_ids: Sequence[str]) -> None:
    for user_id in user_ids:
        problem = user_id_problem(user_id)
        if problem:
            raise Invalid({"managers": problem})


def check_managers(managers: Sequence[str]) -> tuple[str, ...]:
    check_user_ids(managers)
    unique = tuple(dict.fromkeys(managers))
    if len(unique) > MAX_MANAGERS:
        raise LimitExceeded(f"a community has at most {MAX_MANAGERS} managers",
                                     {"limit": MAX_MANAGERS, "field": "managers"})
    return unique


def check_date_order(value: str) -> str:
    """`value` as one of :data:`DATE_ORDERS` (any case, outer spaces ignored), else Invalid."""
    name = value.strip().lower() if isinstance(value, str) else ""
    if name not in DATE_ORDERS:
        raise Invalid({"date_order": f"must be one of {', '.join(DATE_ORDERS)}"})
    return name


# Zones of the countries that write the month first: the United States and the places that follow
# its usage (Philippines, Belize, the freely associated states, the US territories), and the
# countries that write year-month-day, whose short form (12/24) is month/day too: China, Japan,
# Korea, Taiwan, Mongolia. Legacy aliases included, since a community keeps the name it was given.
_MONTH_FIRST_PREFIXES = ("America/Indiana/", "America/Kentucky/", "America/North_Dakota/", "US/")
_MONTH_FIRST = frozenset({
    "America/New_York", "America/Detroit", "America/Chicago", "America/Menominee", "America/Denver",
    "America/Boise", "America/Phoenix", "America/Los_Angeles", "America/Anchorage", "America/Juneau",
    "America/Sitka", "America/Metlakatla", "America/Yakutat", "America/Nome", "America/Adak",
    "America/Fort_Wayne", "America/Indianapolis", "America/Louisville", "America/Knox_IN", "America/Shiprock",
    "America/Atka", "America/Belize", "America/St_Thomas", "America/Virgin",
    "Pacific/Honolulu", "Pacific/Johnston", "Pacific/Guam", "Pacific/Saipan", "Pacific/Pago_Pago",
    "Pacific/Samoa", "Pacific/Midway", "Pacific/Wake", "Pacific/Majuro", "Pacific/Kwajalein", "Pacific/Palau",
    "Pacific/Chuuk", "Pacific/Truk", "Pacific/Yap", "Pacific/Pohnpei", "Pacific/Ponape", "Pacific/Kosrae",
    "Kwajalein", "Navajo", "EST5EDT", "CST6CDT", "MST7MDT", "PST8PDT", "EST", "MST", "HST",
    "Asia/Manila", "Asia/Tokyo", "Japan", "Asia/Seoul", "ROK", "Asia/Pyongyang", "Asia/Shanghai", "PRC",
    "Asia/Chongqing", "Asia/Chungking", "Asia/Harbin", "Asia/Urumqi", "Asia/Kashgar", "Asia/Taipei", "ROC",
    "Asia/Ulaanbaatar", "Asia/Ulan_Bator", "Asia/Choibalsan", "Asia/Hovd",
})
# Zones with no single usual order: Canada writes all three, Puerto Rico both; UTC and the Etc/
# zones say nothing about where the community is (UTC is also what an unset zone reads as).
_ASK_PREFIXES = ("Canada/", "Etc/")
_ASK = frozenset({
    "UTC", "UCT", "GMT", "GMT0", "GMT+0", "GMT-0", "Greenwich", "Universal", "Zulu",
    "America/St_Johns", "America/Halifax", "America/Glace_Bay", "America/Moncton", "America/Goose_Bay",
    "America/Toronto", "America/Montreal", "America/Nipigon", "America/Thunder_Bay", "America/Iqaluit",
    "America/Pangnirtung", "America/Winnipeg", "America/Rainy_River", "America/Resolute", "America/Rankin_Inlet",
    "America/Regina", "America/Swift_Current", "America/Edmonton", "America/Cambridge_Bay", "America/Yellowknife",
    "America/Inuvik", "America/Dawson_Creek", "America/Fort_Nelson", "America/Whitehorse", "America/Dawson",
    "America/Vancouver", "America/Atikokan", "America/Coral_Harbour", "America/Blanc-Sablon", "America/Creston",
    "America/Puerto_Rico",
})


def default_date_order(zone: str) -> str | None:
    """The order a date like 01/02 is usually read in where `zone` is: ``mdy`` (the United States
    and the places above), ``dmy`` (most of the world, Latin America included), or None where
    there is no single usual order (Canada, Puerto Rico, UTC): chat then asks."""
    if zone in _MONTH_FIRST or zone.startswith(_MONTH_FIRST_PREFIXES):
        return "mdy"
    if zone in _ASK or zone.startswith(_ASK_PREFIXES):
        return None
    return "dmy"
