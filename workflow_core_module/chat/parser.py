"""`!schedule ...` chat commands -> typed commands. Pure: the instant and the zone are arguments.

The bot's router hands us the text after the command word; a leading ``!schedule`` or ``!sched``
is stripped as well. Empty text is ``help``. Command words are case-insensitive.

Grammar (``<target>`` is a name or ``#n``, the number ``list`` shows: the n-th schedule made in
the community, removed ones counted, so a number never moves to another schedule)::

    add <when> [options] say <message>       post <message> (verbatim, trimmed, 1-400 chars)
    add <when> [options] run <workflow name> schedule an existing workflow (rest of the line)
        options, in any order, before or after <when>:
            as <name>        until <date> [at <time>] | until <time>        times <n> | <n> times
    list | ls [<page>]                             five schedules a page: list 2, list page 3
    info | show <target>      next <target>       pause <target>       resume <target>
    remove | delete | rm <target>                 run <target>   (now)
    rename <target> [to] <new name>
    timezone | tz <IANA zone>                      (case-insensitive: europe/berlin works)
    dateorder [dmy | mdy | auto]                   how 01/02 reads: 1 Feb, Jan 2, or as the zone does
    managers                                       who may change schedules (without router roles)
    managers add <user id> [<user id> ...]         user ids separated by spaces or commas;
    managers remove | rm | delete <user id> [...]  a Discord/Slack mention <@123> means 123
    platform [twitch | discord | slack | kick]     show or set the community's chat platform
    alerts <target> [on | off]                     show, or tell this channel when it fails, misses or pauses
    help [command]                                 (topics: the commands and "when")

``<when>`` is described in :mod:`workflow_core_module.chat.when`: quoted cron, ``every ...``
(cron or interval), ``in ...``, ``at ...``, ``today``/``tomorrow ...``, ``on <date> ...``.

Names: letters, digits, ``-`` and ``_``, 1-50 characters, not digits only (a bare number like
``3`` means ``#3``). A name with spaces may be given in quotes anywhere a name is read
(``as``, targets, ``rename``); its spaces become ``-``: ``"stream soon"`` is ``stream-soon``.

Decisions:
* Everything after ``say`` is the message and everything after ``run`` the workflow name, so
  options must come before them (``say hi as x`` posts "hi as x"). A workflow name wrapped in
  quotes loses them. Messages may hold line breaks and tabs, not other control characters.
* ``times`` is for repeating schedules; a one-time schedule with ``times`` is an error.
* ``until`` must be after now, and at least one run must fall before it (for a one-time
  schedule: its time must be before ``until``).
* ``help`` reads its first word only; other commands reject extra words.
* A user id is 1-100 characters without spaces or control characters (see
  :func:`~workflow_core_module.scheduling.community.user_id_problem`); ``@name`` is refused with a
  pointer, since managers are chat user ids, not names. Repeated ids count once; at most 500.
* Who may run ``managers add|remove`` and ``platform <name>`` is the service's business, as for
  every change.
* The shortest chat interval (``CHAT_MIN_INTERVAL_SECONDS``) and the per-community limits are
  the executor's business: ``every 10s`` parses.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from ..scheduling.community import DATE_ORDERS, MAX_MANAGERS, PLATFORMS, default_date_order, user_id_problem
from ..scheduling.occurrences import next_occurrence
from ..scheduling.types import ScheduleType, TimeRule, as_utc, iso_z
from ..scheduling.validation import MAX_PAUSE_REASON_CHARS
from ..scheduling.zones import canonical_zone, suggest_zone, zone
from .commands import (
    Add,
    AddManagers,
    Alerts,
    Command,
    DateOrder,
    Help,
    Info,
    List,
    Managers,
    Next,
    Pause,
    Platform,
    Remove,
    RemoveManagers,
    Rename,
    Resume,
    RunNow,
    SetAlerts,
    SetDateOrder,
    SetPlatform,
    SetTimezone,
    Target,
    When,
)
from .errors import ChatParseError, fail, show, suggestion, unknown
from .tokens import Token, TokenStream
from .when import Ctx, describe_instant, parse_pause_end, parse_until, parse_when

MAX_TEXT_CHARS = 2000
MAX_MESSAGE_CHARS = 400
MAX_NAME_CHARS = 50
MAX_WORKFLOW_NAME_CHARS = 100
MAX_TIMES = 1_000_000
MAX_NUMBER = 1_000_000

_PREFIX = re.compile(r"\s*!sched(?:ule)?(?=\s|$)", re.IGNORECASE)
_NAME = re.compile(r"[\w-]{1,50}")
_NUMBER = re.compile(r"#?(\d{1,7})")
_OPTION_WORDS = ("as", "until", "times")
_ACTION_WORDS = ("say", "run")
_MANAGER_ACTIONS = {"add": "add", "remove": "remove", "rm": "remove", "delete": "remove"}
_MENTION = re.compile(r"<@!?([^<>@\s]+)>")

COMMAND_ALIASES: dict[str, str] = {
    "add": "add", "list": "list", "ls": "list", "info": "info", "show": "info", "next": "next",
    "pause": "pause", "resume": "resume", "remove": "remove", "delete": "remove", "rm": "remove",
    "run": "run", "rename": "rename", "timezone": "timezone", "tz": "timezone", "help": "help",
    "managers": "managers", "manager": "managers", "platform": "platform", "dateorder": "dateorder",
    "date-order": "dateorder", "alerts": "alerts", "alert": "alerts",
}
HELP_TOPICS = ("add", "list", "info", "next", "pause", "resume", "remove", "run", "rename", "timezone", "dateorder",
               "managers", "platform", "alerts", "help", "when")
_DATE_ORDER_WORDS = {"dmy": "dmy", "d/m": "dmy", "dd/mm": "dmy", "day-first": "dmy", "mdy": "mdy", "m/d": "mdy",
                     "mm/dd": "mdy", "month-first": "mdy", "auto": None, "default": None}
MAX_PAGE = 1000
_HELP_TOPIC_ALIASES = {**COMMAND_ALIASES, "when": "when"}


@dataclass(frozen=True, slots=True)
class _Where:
    """What a command is read against: the instant, the community's zone and its date order."""

    now: datetime
    timezone: str
    date_order: str | None


def parse_command(text: str, *, now: datetime, timezone: str = "UTC", date_order: str | None = None) -> Command:
    """Parse the text of one `!schedule` command. Raises only :class:`ChatParseError`.

    `timezone` is the community's zone; `date_order` its setting for dates like 01/02 (``dmy``
    or ``mdy``; None: the usual order of the zone, and a question back where it has none).
    """
    if not isinstance(text, str):
        raise fail("I can only read text.", "help")
    if len(text) > MAX_TEXT_CHARS:
        raise fail(f"That command is too long ({len(text)} characters; at most {MAX_TEXT_CHARS}).", "add")
    prefix = _PREFIX.match(text)
    stream = TokenStream(text, prefix.end() if prefix else 0)
    token = stream.next()
    if token is None:
        return Help(None)
    command = None if token.quoted else COMMAND_ALIASES.get(token.low)
    if command is None:
        raise unknown(token.text, "help", COMMAND_ALIASES)
    return _PARSERS[command](stream, _Where(now, timezone, date_order))


MAX_WHEN_CHARS = 200


def read_when(text: str, *, now: datetime, timezone: str = "UTC", date_order: str | None = None) -> dict[str, object]:
    """A phrase saying when, read as chat reads the `<when>` of `add` (with its `until` and
    `times` options): `every weekday at 9am`, `every 2 days at 10:00 until dec 31`, `in 10
    minutes`. The timing fields of a schedule spec; raises :class:`ChatParseError` with the hint."""
    if not isinstance(text, str) or not text.strip():
        raise fail("When should it run?", "add")
    if len(text) > MAX_WHEN_CHARS:
        raise fail(f"That is too long ({len(text)} characters; at most {MAX_WHEN_CHARS}).", "add")
    stream, ctx, options = TokenStream(text), _context(_Where(now, timezone, date_order)), _Options()
    _read_options(stream, ctx, options)
    when = parse_when(stream, ctx)
    _read_options(stream, ctx, options)
    _no_more(stream, "add")
    if options.name is not None:
        raise fail("Give the schedule's name in its name field, not with as.", "add", "as")
    _check_times(when.schedule_type, options.times)
    if options.until is not None:
        _check_until(when, options.until, ctx)
    return schedule_spec(Add(when, None, None, None, options.until, options.times))


def schedule_spec(add: Add) -> dict[str, object]:
    """The timing fields of `add` for the schedule service (instants as ISO 8601 with Z)."""
    when = add.when
    spec: dict[str, object] = {"schedule_type": when.schedule_type}
    if when.schedule_type == ScheduleType.CRON.value:
        spec["cron_expression"] = when.cron_expression
    elif when.schedule_type == ScheduleType.INTERVAL.value:
        spec["interval_seconds"] = when.interval_seconds
    else:
        assert when.scheduled_time is not None
        spec["scheduled_time"] = iso_z(when.scheduled_time)
    spec["timezone"] = when.timezone
    if when.start is not None:
        spec["start_date"] = iso_z(when.start)
    if add.until is not None:
        spec["end_date"] = iso_z(add.until)
    if add.times is not None:
        spec["max_executions"] = add.times
    return spec


# ---------------------------------------------------------------------------------------------
# add


class _Options:
    """`as`, `until` and `times`, each at most once."""

    def __init__(self) -> None:
        self.name: str | None = None
        self.until: datetime | None = None
        self.times: int | None = None
        self.seen: set[str] = set()


def _parse_add(stream: TokenStream, where: _Where) -> Add:
    ctx = _context(where)
    options = _Options()
    _read_options(stream, ctx, options)
    when = parse_when(stream, ctx)
    _read_options(stream, ctx, options)
    action = stream.next()
    if action is None:
        raise fail(f"What should happen {when.text}? End with say <message> or run <workflow>.", "add")
    if action.quoted or action.low not in _ACTION_WORDS:
        raise fail(
            f"I expected say or run here, not {show(action.text)}"
            f"{suggestion(action.text, (*_ACTION_WORDS, *_OPTION_WORDS))}.",
            "add", action.text,
        )
    say = _message(stream.rest()) if action.low == "say" else None
    run = _workflow_name(stream.rest()) if action.low == "run" else None
    _check_times(when.schedule_type, options.times)
    if options.until is not None:
        _check_until(when, options.until, ctx)
    return Add(when, say, run, options.name, options.until, options.times)


def _context(where: _Where) -> Ctx:
    zone = _load_zone(where.timezone)
    if zone is None:
        raise fail(f"This community's time zone {show(str(where.timezone))} is not valid; set one first.", "timezone")
    order = where.date_order if where.date_order in DATE_ORDERS else default_date_order(where.timezone)
    return Ctx(as_utc(where.now), zone, where.timezone, order)


def _read_options(stream: TokenStream, ctx: Ctx, options: _Options) -> None:
    while (word := stream.peek_word()) is not None:
        if word in _OPTION_WORDS:
            _once(options, word)
            stream.next()
            _OPTION_READERS[word](stream, ctx, options)
        elif _NUMBER.fullmatch(word) and stream.peek_word(1) == "times":
            _once(options, "times")
            stream.next()
            stream.next()
            options.times = _times_value(word)
        else:
            return


def _once(options: _Options, word: str) -> None:
    if word in options.seen:
        raise fail(f"You gave {show(word)} twice.", word, word)
    options.seen.add(word)


def _read_as(stream: TokenStream, ctx: Ctx, options: _Options) -> None:
    options.name = _new_name(stream.next(), "as")


def _read_until(stream: TokenStream, ctx: Ctx, options: _Options) -> None:
    options.until = parse_until(stream, ctx)


def _read_times(stream: TokenStream, ctx: Ctx, options: _Options) -> None:
    token = stream.next()
    options.times = _times_value(token.text if token and not token.quoted else None)


def _times_value(word: str | None) -> int:
    match = _NUMBER.fullmatch(word) if word else None
    if match is None or not 1 <= int(match.group(1)) <= MAX_TIMES:
        raise fail(
            f"times needs a whole number from 1 to {MAX_TIMES:,}, not {show(word or '')}.", "times", word
        )
    return int(match.group(1))


_OPTION_READERS: dict[str, Callable[[TokenStream, Ctx, _Options], None]] = {
    "as": _read_as,
    "until": _read_until,
    "times": _read_times,
}


def _message(rest: str) -> str:
    message = rest.strip()
    if not message:
        raise fail("What should I say? Put the message after say.", "say", "say")
    if len(message) > MAX_MESSAGE_CHARS:
        raise fail(f"The message is {len(message)} characters long; the most is {MAX_MESSAGE_CHARS}.", "say")
    if _has_bad_characters(message, allowed="\n\r\t"):
        raise fail("The message contains a control character.", "say")
    return message


def _workflow_name(rest: str) -> str:
    name = _unquote(rest.strip())
    if not name:
        raise fail("Which workflow? Put its name after run.", "run", "run")
    if len(name) > MAX_WORKFLOW_NAME_CHARS:
        raise fail(f"That workflow name is too long (at most {MAX_WORKFLOW_NAME_CHARS} characters).", "run")
    if _has_bad_characters(name):
        raise fail("The workflow name contains a control character.", "run")
    return name


def _unquote(text: str) -> str:
    """'"nightly backup"' -> 'nightly backup' (one pair of matching outer quotes)."""
    stream = TokenStream(text)
    try:
        token = stream.next()
    except ChatParseError:
        return text
    if token is not None and token.quoted and token.start == 0 and token.end == len(text):
        return token.text.strip()
    return text


def _has_bad_characters(text: str, allowed: str = "") -> bool:
    """Control characters (other than `allowed`) or lone surrogates, which no database stores."""
    return any(unicodedata.category(ch) in ("Cc", "Cs") and ch not in allowed for ch in text)


def _check_times(schedule_type: str, times: int | None) -> None:
    if times is not None and schedule_type == ScheduleType.ONE_TIME.value:
        raise fail("A one-time schedule runs once; times is for repeating ones.", "times", "times")


def _check_until(when: When, until: datetime, ctx: Ctx) -> None:
    """`until` (always ahead of now: see parse_until) must leave at least one run before it."""
    rule = TimeRule(
        ScheduleType(when.schedule_type),
        ctx.zone_name,
        cron_expression=when.cron_expression,
        interval_seconds=when.interval_seconds,
        scheduled_time=when.scheduled_time,
        start_date=when.start,
        anchor=when.start or ctx.now.replace(microsecond=0),
    )
    first = next_occurrence(rule, ctx.now)
    if first is None or first > until:
        first_text = describe_instant(first, ctx) if first else "never"
        shown = describe_instant(until, ctx)
        raise fail(f"until ends it {shown}, before its first run {first_text}.", "until", "until")


# ---------------------------------------------------------------------------------------------
# Names and targets


def _new_name(token: Token | None, example: str) -> str:
    """A schedule name (see the module docstring); quoted spaces become '-'."""
    if token is None:
        raise fail("Which name? Give one word after as.", example)
    name = "-".join(token.text.split()) if token.quoted else token.text
    if not _NAME.fullmatch(name):
        raise fail(
            f"{show(token.text)} can't be a name: use 1-{MAX_NAME_CHARS} letters, digits, - or _.",
            example, token.text,
        )
    if name.isdigit():
        raise fail(f"{show(name)} can't be a name: a number alone means #{name}.", example, token.text)
    return name


def _target(stream: TokenStream, example: str) -> Target:
    token = stream.next()
    if token is None:
        raise fail("Which schedule? Give its name or its #number from !schedule list.", example)
    if not token.quoted and (match := _NUMBER.fullmatch(token.text)) is not None:
        number = int(match.group(1))
        if not 1 <= number <= MAX_NUMBER:
            raise fail(f"There is no schedule {show(token.text)}; numbers start at #1.", example, token.text)
        return Target(None, number)
    if not token.quoted and token.text.startswith("#"):
        raise fail(f"{show(token.text)} is not a number; use #1, #2, ...", example, token.text)
    return Target(_new_name(token, example), None)


def _no_more(stream: TokenStream, example: str) -> None:
    token = stream.next()
    if token is not None:
        raise fail(f"I didn't expect {show(token.text)} here.", example, token.text)


def _target_command(make: Callable[[Target], Command], example: str) -> Callable[[TokenStream, _Where], Command]:
    def parse(stream: TokenStream, where: _Where) -> Command:
        target = _target(stream, example)
        _no_more(stream, example)
        return make(target)

    return parse


# ---------------------------------------------------------------------------------------------
# The other commands


def _parse_list(stream: TokenStream, where: _Where) -> Command:
    """list | list 2 | list page 2"""
    stream.accept("page", "p")
    token = stream.next()
    if token is None:
        return List()
    match = None if token.quoted else re.fullmatch(r"\d{1,4}", token.text)
    if match is None or not 1 <= int(token.text) <= MAX_PAGE:
        raise fail(f"I didn't expect {show(token.text)} here; list takes a page number.", "list_page", token.text)
    _no_more(stream, "list_page")
    return List(int(token.text))


def _parse_pause(stream: TokenStream, where: _Where) -> Command:
    """pause <target> [for <duration> | until <when>] [because <reason>]"""
    target = _target(stream, "pause")
    until = parse_pause_end(stream, _context(where)) if stream.peek_word() in ("for", "until") else None
    if not stream.accept("because"):
        _no_more(stream, "pause")
        return Pause(target, until)
    reason = " ".join(stream.rest().split())  # the rest of the line is the reason
    if not reason:
        raise fail("Because of what? Give the reason after because.", "pause", "because")
    if len(reason) > MAX_PAUSE_REASON_CHARS:
        raise fail(f"The reason is {len(reason)} characters long; the most is {MAX_PAUSE_REASON_CHARS}.", "pause")
    return Pause(target, until, reason)


def _parse_rename(stream: TokenStream, where: _Where) -> Command:
    target = _target(stream, "rename")
    if stream.peek_word() == "to" and stream.peek(1) is not None:
        stream.next()
    token = stream.next()
    if token is None:
        raise fail("Rename to what? Give the new name after the old one.", "rename")
    new_name = _new_name(token, "rename")
    _no_more(stream, "rename")
    return Rename(target, new_name)


def _parse_timezone(stream: TokenStream, where: _Where) -> Command:
    token = stream.next()
    if token is None:
        raise fail("Which time zone? Give an IANA name.", "timezone")
    zone = canonical_zone(token.text.strip())
    if zone is None:
        raise fail(
            f"I don't know the time zone {show(token.text)}{_zone_suggestion(token.text)}; "
            "use an IANA name.",
            "timezone", token.text,
        )
    _no_more(stream, "timezone")
    return SetTimezone(zone)


def _parse_dateorder(stream: TokenStream, where: _Where) -> Command:
    """dateorder | dateorder dmy | mdy | auto"""
    token = stream.next()
    if token is None:
        return DateOrder()
    if token.quoted or token.low not in _DATE_ORDER_WORDS:
        raise fail(
            f"I don't know the date order {show(token.text)}{suggestion(token.text, ('dmy', 'mdy', 'auto'))}; "
            "use dmy (24/12 is 24 Dec), mdy (12/24 is Dec 24) or auto (what the time zone uses).",
            "dateorder", token.text,
        )
    _no_more(stream, "dateorder")
    return SetDateOrder(_DATE_ORDER_WORDS[token.low])


def _parse_managers(stream: TokenStream, where: _Where) -> Command:
    token = stream.next()
    if token is None:
        return Managers()
    action = None if token.quoted else _MANAGER_ACTIONS.get(token.low)
    if action is None:
        hint = "" if token.low in _MANAGER_ACTIONS else suggestion(token.text, ("add", "remove"))
        raise fail(
            f"After managers I expected add or remove, not {show(token.text)}{hint}.",
            "managers", token.text,
        )
    if action == "add":
        return AddManagers(_user_ids(stream, "add", "managers"))
    return RemoveManagers(_user_ids(stream, "remove", "managers_remove"))


def _user_ids(stream: TokenStream, action: str, example: str) -> tuple[str, ...]:
    """The user ids after `managers add|remove`: separated by spaces or commas, each once."""
    ids: list[str] = []
    while (token := stream.next()) is not None:
        if not token.quoted and token.text == ",":
            continue
        ids.append(_user_id(token, example))
    if not ids:
        raise fail(f"Whose user id? Put one or more after managers {action}.", example)
    unique = tuple(dict.fromkeys(ids))
    if len(unique) > MAX_MANAGERS:
        raise fail(f"That is {len(unique)} user ids; a community has at most {MAX_MANAGERS} managers.", example)
    return unique


def _user_id(token: Token, example: str) -> str:
    text = token.text
    if not token.quoted and (mention := _MENTION.fullmatch(text)) is not None:
        text = mention.group(1)  # a Discord or Slack mention, <@123> or <@!123>, names the user id
    elif not token.quoted and text.startswith("@"):
        raise fail(f"{show(text)} is a name; managers are chat user ids (like 123456789), not names.", example, text)
    problem = user_id_problem(text)
    if problem is not None:
        raise fail(f"{show(text)} can't be a user id: {problem}.", example, token.text)
    return text


def _parse_platform(stream: TokenStream, where: _Where) -> Command:
    token = stream.next()
    if token is None:
        return Platform()
    name = token.text.strip().lower()
    if name not in PLATFORMS:
        raise fail(
            f"I don't know the platform {show(token.text)}{suggestion(token.text, PLATFORMS)}; "
            f"use {', '.join(PLATFORMS[:-1])} or {PLATFORMS[-1]}.",
            "platform", token.text,
        )
    _no_more(stream, "platform")
    return SetPlatform(name)


def _parse_alerts(stream: TokenStream, where: _Where) -> Command:
    """alerts <target> [on | off]"""
    target = _target(stream, "alerts")
    token = stream.next()
    if token is None:
        return Alerts(target)
    if token.quoted or token.low not in ("on", "off"):
        raise fail(f"I didn't expect {show(token.text)} here; alerts are on or off.", "alerts", token.text)
    _no_more(stream, "alerts")
    return SetAlerts(target, token.low == "on")


def _parse_help(stream: TokenStream, where: _Where) -> Command:
    token = stream.next()
    if token is None:
        return Help(None)
    topic = _HELP_TOPIC_ALIASES.get(token.low)
    if topic is None:
        raise unknown(token.text, "help", HELP_TOPICS)
    return Help(topic)


# ---------------------------------------------------------------------------------------------
# Time zones


def _load_zone(name: str) -> ZoneInfo | None:
    canonical = canonical_zone(name)
    return zone(canonical) if canonical is not None else None


def _zone_suggestion(text: str) -> str:
    """' (did you mean "Europe/Berlin"?)' for 'berlin' or 'Europe/Berln'."""
    suggested = suggest_zone(text)
    return f" (did you mean {show(suggested)}?)" if suggested else ""


_PARSERS: dict[str, Callable[[TokenStream, _Where], Command]] = {
    "add": _parse_add,
    "list": _parse_list,
    "info": _target_command(Info, "info"),
    "next": _target_command(Next, "next"),
    "pause": _parse_pause,
    "resume": _target_command(Resume, "resume"),
    "remove": _target_command(Remove, "remove"),
    "run": _target_command(RunNow, "run_now"),
    "rename": _parse_rename,
    "timezone": _parse_timezone,
    "dateorder": _parse_dateorder,
    "managers": _parse_managers,
    "platform": _parse_platform,
    "alerts": _parse_alerts,
    "help": _parse_help,
}

__all__ = ["HELP_TOPICS", "ChatParseError", "parse_command", "schedule_spec"]
