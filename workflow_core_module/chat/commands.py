"""The typed commands the parser produces. Frozen values, no behaviour."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypeAlias


@dataclass(frozen=True, slots=True)
class When:
    """When an `add` runs, ready for the schedule service."""

    schedule_type: str  # "cron" | "interval" | "one_time"
    cron_expression: str | None
    interval_seconds: int | None
    scheduled_time: datetime | None  # aware UTC, whole seconds
    timezone: str  # the community zone the times were read in
    text: str  # how a person says it: "every weekday at 09:00", "in 10 minutes"
    start: datetime | None = None  # aware UTC: an interval's first run, the grid's anchor (every other day)
    note: str | None = None  # what the reply should add: a time filled in, a daylight-saving drift


@dataclass(frozen=True, slots=True)
class Target:
    """A schedule named by the user: by name ("nightly") or by its number in `list` ("#3")."""

    name: str | None
    number: int | None


@dataclass(frozen=True, slots=True)
class Add:
    when: When
    say: str | None  # message to post, or
    run: str | None  # name of an existing workflow to run
    name: str | None
    until: datetime | None  # aware UTC
    times: int | None  # max executions


@dataclass(frozen=True, slots=True)
class List:
    page: int = 1  # `list 2`: the second page


@dataclass(frozen=True, slots=True)
class Info:
    target: Target


@dataclass(frozen=True, slots=True)
class Next:
    target: Target


@dataclass(frozen=True, slots=True)
class Pause:
    target: Target
    until: datetime | None = None  # it resumes by itself then
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Resume:
    target: Target


@dataclass(frozen=True, slots=True)
class Remove:
    target: Target


@dataclass(frozen=True, slots=True)
class RunNow:
    target: Target


@dataclass(frozen=True, slots=True)
class Rename:
    target: Target
    new_name: str


@dataclass(frozen=True, slots=True)
class SetTimezone:
    zone: str  # a valid IANA name, canonical spelling


@dataclass(frozen=True, slots=True)
class DateOrder:
    """Show how dates like 01/02 are read here."""


@dataclass(frozen=True, slots=True)
class SetDateOrder:
    order: str | None  # "dmy" or "mdy"; None: back to the default of the community's zone


@dataclass(frozen=True, slots=True)
class Managers:
    """Show the community's schedule managers."""


@dataclass(frozen=True, slots=True)
class AddManagers:
    user_ids: tuple[str, ...]  # chat user ids as the router sends them; no duplicates, in the order typed


@dataclass(frozen=True, slots=True)
class RemoveManagers:
    user_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Platform:
    """Show the community's platform."""


@dataclass(frozen=True, slots=True)
class SetPlatform:
    platform: str  # one of db.community_store.PLATFORMS


@dataclass(frozen=True, slots=True)
class Alerts:
    """Show a schedule's alerts."""

    target: Target


@dataclass(frozen=True, slots=True)
class SetAlerts:
    """Switch a schedule's alerts on (into this chat channel, unless it has a chat channel) or off."""

    target: Target
    on: bool


@dataclass(frozen=True, slots=True)
class Help:
    topic: str | None  # a command name (see HELP_TOPICS in parser), or None for the overview


Command: TypeAlias = (
    Add | List | Info | Next | Pause | Resume | Remove | RunNow | Rename | SetTimezone | DateOrder | SetDateOrder
    | Managers | AddManagers | RemoveManagers | Platform | SetPlatform | Alerts | SetAlerts | Help
)
