"""A community's settings for chat and the rules for their values: the platform, the managers
(chat user ids), the community id. Pure; the store, the API, the CLI and the chat commands all
check with these."""

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


@dataclass(frozen=True, slots=True)
class Community:
    community_id: str
    timezone: str = "UTC"
    managers: tuple[str, ...] = ()
    platform: str | None = None  # one of PLATFORMS, or None when nobody has set it


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
