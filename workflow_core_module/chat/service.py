"""Runs parsed `!schedule` commands for a community and answers in one chat line.

Every outcome, refusals included, is a reply a person can act on: what happened, in the
community's time zone, or what was wrong and a command that works.
"""

from __future__ import annotations

import json
import logging
import re
import shlex
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from ..clock import Clock
from ..config import Settings
from ..errors import (
    Conflict,
    DomainError,
    Invalid,
    LimitExceeded,
    NotFound,
)
from ..scheduling import ScheduleStatus, ScheduleType, TimeRule, occurrences
from ..scheduling.alerts import DEFAULT_EVENTS, MAX_CHANNELS, MAX_ENTITY_CHARS
from ..scheduling.describe import describe
from ..scheduling.schedule import Schedule
from ..scheduling.zones import local as to_local
from ..services.community_service import MAX_MANAGERS, PLATFORMS, Community, CommunityService
from ..services.schedule_service import ScheduleService
from ..services.scheduler import Scheduler
from ..services.workflow_service import WorkflowService
from . import commands as c
from .errors import EXAMPLES, ChatParseError
from .parser import parse_command, schedule_spec

log = logging.getLogger(__name__)

SAY_WORKFLOW = "chat-messages"
MUTATING = (c.Add, c.Pause, c.Resume, c.Remove, c.RunNow, c.Rename, c.SetTimezone, c.SetDateOrder, c.AddManagers,
            c.RemoveManagers, c.SetPlatform, c.SetAlerts)
MANAGER_CHANGES = (c.AddManagers, c.RemoveManagers)
# Changes a manager may make without counting toward the rate limit: how this community reads times and
# dates. They touch no schedule, and setting them up is where people try a few values in a row.
NOT_RATE_LIMITED = (c.SetTimezone, c.SetDateOrder)
CLI_MANAGERS = "python -m workflow_core_module communities managers"
_LIST_LIMIT = 500
LIST_PAGE_SIZE = 5
_MIN_SHOWN = 8  # the fewest characters of a description worth showing in a list
_ORDER_WORDS = {"dmy": "day first (01/02 is 1 Feb)", "mdy": "month first (01/02 is Jan 2)"}


@dataclass(frozen=True, slots=True)
class ChatContext:
    """Who typed the command, and where (from the router's envelope)."""

    community_id: str
    user_id: str
    username: str
    entity_id: str
    platform: str
    roles: tuple[str, ...] | None = None  # None: the router sent no roles

    @property
    def actor(self) -> str:
        """Who to record as `created_by` and in the audit log: a person, never just a platform.

        ``<platform>:<username>`` when the router names both, ``chat:<username>`` without a platform,
        and ``user:<user_id>`` when it sends no username (WaddleBot's router sends only the id).
        """
        if self.username:
            return f"{self.platform or 'chat'}:{self.username}"
        return f"user:{self.user_id}" if self.user_id else "chat:unknown"

    def sorry(self) -> str:
        """'Sorry alice,' or, with no username known, 'Sorry,' (never 'Sorry there,')."""
        return f"Sorry {self.username}," if self.username else "Sorry,"


class SharedWindow(Protocol):
    """A sliding-window counter every replica sees (services.coordination.Coordinator, on Redis)."""

    async def window_hit(self, name: str, now: float, window_seconds: float, limit: int) -> float | None:
        """0.0 when counted, else seconds until there is room; None when it cannot answer now."""


class RateLimiter:
    """At most `per_minute` mutating commands per user and community, in any 60 s.

    With a `shared` window (Redis), the count holds across replicas. Without one, or while it cannot
    answer (Redis down), each replica counts on its own: a person may then make up to `per_minute`
    changes a minute on each replica, rather than chat refusing everyone while Redis is away. The
    local count is kept in step with what the shared window allowed, so it starts warm."""

    WINDOW_SECONDS = 60

    def __init__(self, per_minute: int, clock: Clock, shared: SharedWindow | None = None) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self.shared = shared
        self._on_own = False  # counting on this replica alone since the shared window last failed
        self._seen: dict[tuple[str, str], deque[float]] = {}

    async def wait_seconds(self, key: tuple[str, str]) -> float:
        """0 when allowed now (and counted), else how long until it would be."""
        now = self.clock.now().timestamp()
        if self.shared is not None:
            # json: unambiguous whatever the ids hold (community "a:b" and user "c" is not "a" and "b:c")
            name = json.dumps(["chat-changes", *key])
            wait = await self.shared.window_hit(name, now, self.WINDOW_SECONDS, self.per_minute)
            if wait is not None:
                if self._on_own:
                    self._on_own = False
                    log.info("chat rate limit shared across replicas again", extra={"action": "chat.rate_shared"})
                if not wait:
                    self._record(key, now)
                return wait
            if not self._on_own:
                self._on_own = True
                log.warning("chat rate limit: the shared count (Redis) cannot answer; each replica counts on its "
                            "own until it can", extra={"category": "ERROR", "action": "chat.rate_local"})
        return self._local(key, now)

    def _window(self, key: tuple[str, str], now: float) -> deque[float]:
        window = self._seen.setdefault(key, deque())
        while window and now - window[0] >= self.WINDOW_SECONDS:
            window.popleft()
        return window

    def _local(self, key: tuple[str, str], now: float) -> float:
        window = self._window(key, now)
        if len(window) >= self.per_minute:
            return self.WINDOW_SECONDS - (now - window[0])
        self._record(key, now)
        return 0.0

    def _record(self, key: tuple[str, str], now: float) -> None:
        self._window(key, now).append(now)
        if len(self._seen) > 10_000:  # forget idle users
            self._seen = {k: v for k, v in self._seen.items() if v and now - v[-1] < self.WINDOW_SECONDS}


class ChatService:
    def __init__(self, schedules: ScheduleService, scheduler: Scheduler, workflows: WorkflowService,
                 communities: CommunityService, settings: Settings, clock: Clock,
                 shared: SharedWindow | None = None) -> None:
        self.schedules = schedules
        self.scheduler = scheduler
        self.workflows = workflows
        self.communities = communities
        self.settings = settings
        self.clock = clock
        self.limiter = RateLimiter(settings.chat_rate_limit_per_minute, clock, shared)
        self._handlers: dict[type, Callable[..., Any]] = {
            c.Help: self._help, c.List: self._list, c.Info: self._info, c.Next: self._next, c.Add: self._add,
            c.Pause: self._pause, c.Resume: self._resume, c.Remove: self._remove, c.RunNow: self._run,
            c.Rename: self._rename, c.SetTimezone: self._timezone, c.DateOrder: self._date_order,
            c.SetDateOrder: self._set_date_order, c.Managers: self._managers,
            c.AddManagers: self._add_managers, c.RemoveManagers: self._remove_managers, c.Platform: self._platform,
            c.SetPlatform: self._set_platform, c.Alerts: self._alerts, c.SetAlerts: self._set_alerts,
        }

    async def handle(self, text: str, ctx: ChatContext) -> str:
        """The reply to one command line (the text after `!schedule`)."""
        community = await self.communities.get(ctx.community_id)
        try:
            command = parse_command(text, now=self.clock.now(), timezone=community.timezone,
                                    date_order=community.date_order)
        except ChatParseError as exc:
            return self._fit(exc.message)
        if isinstance(command, MUTATING):
            refusal = await self._refuse(ctx, community, command)
            if refusal:
                return self._fit(refusal)
        try:
            reply = await self._handlers[type(command)](command, ctx, community)
        except DomainError as exc:
            reply = self._explain(exc)
        return self._fit(reply)

    # ---- who may, and how often ------------------------------------------------------------

    async def _refuse(self, ctx: ChatContext, community: Community, command: c.Command) -> str | None:
        """Why `ctx` may not make this change (None: allowed, and counted against the rate limit unless it
        is a setting of NOT_RATE_LIMITED).

        With roles from the router, a role in CHAT_MANAGER_ROLES decides; without, the user id must be
        one of the community's managers. With no managers yet, only the operator can add the first.
        """
        allowed_roles = self.settings.chat_manager_roles
        if ctx.roles is not None:
            allowed = any(role.lower() in allowed_roles for role in ctx.roles)
        else:
            allowed = bool(ctx.user_id) and ctx.user_id in community.managers
        if not allowed:
            if ctx.roles is not None:
                return (f"{ctx.sorry()} only {', '.join(allowed_roles)} can change schedules here. "
                        "Anyone can look: !schedule list")
            if not community.managers and isinstance(command, MANAGER_CHANGES):
                return self._bootstrap(ctx)
            look = "!schedule managers" if isinstance(command, MANAGER_CHANGES) else "!schedule list"
            return (f"{ctx.sorry()} only the community's schedule managers can change schedules here. "
                    f"Anyone can look: {look}")
        if isinstance(command, NOT_RATE_LIMITED):
            return None
        wait = await self.limiter.wait_seconds((ctx.community_id, ctx.user_id))
        if wait:
            return (f"Slow down: at most {self.limiter.per_minute} schedule changes a minute per person. "
                    f"Try again in {max(1, round(wait))} s.")
        return None

    @staticmethod
    def _bootstrap(ctx: ChatContext) -> str:
        """No managers yet and no roles from the router: chat cannot name the first manager."""
        you = shlex.quote(ctx.user_id) if ctx.user_id else "<user id>"  # quoted: the operator pastes it
        return (f"This community has no schedule managers yet, and chat can't add the first one. "
                f"The operator runs: {CLI_MANAGERS} {shlex.quote(ctx.community_id)} --add {you}")

    def _explain(self, exc: DomainError) -> str:
        if isinstance(exc, LimitExceeded):
            limit = exc.details.get("limit", self.settings.max_schedules_per_community)
            return f"This community already has {limit} schedules, the most allowed. Remove one first: !schedule list"
        if isinstance(exc, Conflict) and "name" in exc.details:
            return f"{exc.message.capitalize()}. Pick another name with \"as <name>\"."
        if isinstance(exc, Conflict):
            return exc.message[0].upper() + exc.message[1:] + "."
        if isinstance(exc, Invalid):
            field, problem = next(iter(exc.errors.items()), ("", exc.message))
            return f"That doesn't work: {field.replace('_', ' ')} {problem}. Try: {EXAMPLES['add']}"
        log.error("chat command failed: %s", exc.message, extra={"category": "ERROR"})
        return "Something went wrong on our side; it has been logged. Please try again in a minute."

    def _fit(self, text: str) -> str:
        limit = self.settings.chat_reply_max_chars
        text = " ".join(text.split())
        return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"

    # ---- formatting -----------------------------------------------------------------------

    @staticmethod
    def _at(instant: datetime | None, zone: str) -> str:
        if instant is None:
            return "never"
        local = to_local(instant, zone)
        return f"{local:%a %d %b %H:%M}"

    @staticmethod
    def _timing(schedule: Schedule, upstream_name: str | None = None) -> str:
        text = schedule.description or describe(schedule.rule(), upstream_name)
        return text if schedule.timezone == "UTC" or schedule.upstream() else f"{text} ({schedule.timezone})"

    # ---- finding schedules ------------------------------------------------------------------

    async def _all(self, community_id: str) -> list[Schedule]:
        page = await self.schedules.list_schedules(scope=community_id, limit=_LIST_LIMIT)
        return page.items

    async def _numbered(self, community_id: str) -> list[tuple[int, Schedule]]:
        """The community's schedules, oldest first, each with its number: the n-th schedule made in
        the community, removed ones counted. A number never moves to another schedule, so `remove #3`
        typed from an old list removes what that list called #3, or nothing."""
        items = await self._all(community_id)
        numbers = await self.schedules.creation_numbers(community_id)
        return [(numbers[s.schedule_id], s) for s in items if s.schedule_id in numbers]

    async def _find(self, target: c.Target, community_id: str) -> tuple[int, Schedule]:
        numbered = await self._numbered(community_id)
        wanted = (target.name or "").lower()
        for number, schedule in numbered:
            if target.number is not None:
                if number == target.number:
                    return number, schedule
            elif schedule.name.lower() == wanted:
                return number, schedule
        raise NotFound("schedule", f"#{target.number}" if target.number is not None else target.name or "")

    async def _target(self, target: c.Target, ctx: ChatContext) -> tuple[int, Schedule] | str:
        try:
            return await self._find(target, ctx.community_id)
        except NotFound:
            shown = f"#{target.number}" if target.number is not None else f'"{target.name}"'
            return f"I can't find a schedule {shown} here. See the numbered list: !schedule list"

    # ---- read commands ----------------------------------------------------------------------

    async def _help(self, command: c.Help, ctx: ChatContext, community: Community) -> str:
        topic = command.topic
        if topic == "when":
            return ("When can be: every 30 minutes, every hour at :30, daily at 9am, weekdays at 9am, "
                    "every thursday 8pm, every morning at 8, every other day at 10:00, every 1st of the month "
                    "at 12:00, every year on dec 24, in 10 minutes, tonight at 8pm, tomorrow at 9, next friday "
                    'at 17:00, on 24/12 at 18:00, or a cron in quotes ("0 9 * * 1-5"). '
                    f"Times are {community.timezone}.")
        if topic == "dateorder":
            return (f"dateorder: {EXAMPLES['dateorder']} reads 01/02 as 1 Feb (dmy) or Jan 2 (mdy); auto follows the "
                    "time zone; !schedule dateorder shows it. 24/12 and 12/24 need no setting.")
        if topic == "list":
            return (f"list: !schedule list shows {LIST_PAGE_SIZE} schedules a page, oldest first; "
                    f"{EXAMPLES['list_page']} shows the next ones. #n stays with its schedule.")
        if topic == "managers":
            return ("managers: !schedule managers shows who may change schedules here (when the bot sends no roles); "
                    f"a manager adds or removes one by chat user id: {EXAMPLES['managers']} or "
                    f"{EXAMPLES['managers_remove']}")
        if topic == "alerts":
            return (f"alerts: {EXAMPLES['alerts']} posts into this channel when the schedule fails, misses a run, "
                    "pauses itself or recovers; off stops it; !schedule alerts nightly shows them.")
        if topic == "platform":
            return (f"platform: {EXAMPLES['platform']} sets the chat platform scheduled messages are posted to "
                    f"({', '.join(PLATFORMS)}); !schedule platform shows it.")
        if topic:
            key = "run_now" if topic == "run" else topic
            return f"{topic}: {EXAMPLES.get(key, EXAMPLES['add'])} — more: !schedule help when"
        return ("!schedule add <when> say <message> | add <when> run <workflow> | list [page] | info/next/pause/"
                "resume/remove/run <name or #n> | rename <old> <new> | timezone <zone> | dateorder [dmy/mdy] | "
                f"managers [add/remove <user id>] | platform [<name>]. Example: {EXAMPLES['add']} (times in "
                f"{community.timezone}; help <command> for more)")

    async def _list(self, command: c.List, ctx: ChatContext, community: Community) -> str:
        numbered = await self._numbered(ctx.community_id)
        if not numbered:
            return f"No schedules here yet. Add one: {EXAMPLES['add']}"
        total = len(numbered)
        pages = -(-total // LIST_PAGE_SIZE)
        if command.page > pages:
            return (f"There {'is' if pages == 1 else 'are'} only {pages} page{'s' if pages != 1 else ''} of schedules "
                    f"here ({total}). Try: !schedule list{f' {pages}' if pages > 1 else ''}")
        shown = numbered[(command.page - 1) * LIST_PAGE_SIZE: command.page * LIST_PAGE_SIZE]
        head = f"{total} schedule{'s' if total != 1 else ''}"
        head += f", page {command.page} of {pages}: " if pages > 1 else ": "
        tail = f" · more: !schedule list {command.page + 1}" if command.page < pages else ""
        entries = []
        names = {s.schedule_id: s.name for _, s in numbered}  # an after schedule names its upstream
        for number, s in shown:
            timed = s.is_active and s.next_execution_at is not None
            state = f"next {self._at(s.next_execution_at, community.timezone)}" if timed else s.status.value
            upstream = s.upstream()
            text = s.description or describe(s.rule(), names.get(upstream[0]) if upstream else None)
            entries.append((f"#{number} {s.name} (", text, f"; {state})"))
        room = self.settings.chat_reply_max_chars - 2 - len(head) - len(tail) - 3 * (len(entries) - 1)
        return head + " · ".join(_fit_entries(entries, room)) + tail

    async def _info(self, command: c.Info, ctx: ChatContext, community: Community) -> str:
        found = await self._target(command.target, ctx)
        if isinstance(found, str):
            return found
        index, s = found
        what = f'says "{s.context_data["message"]}"' if "message" in s.context_data else "runs a workflow"
        timed = s.is_active and s.next_execution_at is not None  # an after schedule has no time of its own
        state = f"next {self._at(s.next_execution_at, community.timezone)}" if timed else s.status.value
        if s.paused_until:
            state += f" until {self._at(s.paused_until, community.timezone)}"
        if s.pause_reason:
            state += f" ({s.pause_reason[:100]})"
        last = (f"; last ran {self._at(s.last_run_at, community.timezone)} ({s.last_run_status.value})"
                if s.last_run_status else "")
        upstream = await self.schedules.upstream_name(s, ctx.community_id)
        return f'"{s.name}" (#{index}): {self._timing(s, upstream)}, {state}; {what}; {s.total_runs} runs{last}.'

    async def _next(self, command: c.Next, ctx: ChatContext, community: Community) -> str:
        async def act(s: Schedule) -> str:
            times = await self.schedules.next_executions(s.schedule_id, 3, scope=ctx.community_id)
            if not times:
                return f'"{s.name}" will not run again ({s.status.value}).'
            shown = ", ".join(self._at(t, community.timezone) for t in times)
            paused = " if resumed" if s.status is ScheduleStatus.PAUSED else ""
            return f'Next for "{s.name}"{paused}: {shown} ({community.timezone}).'

        return await self._on(command.target, ctx, act)

    # ---- changes ------------------------------------------------------------------------------

    def _too_often(self, add: c.Add) -> str | None:
        """Chat schedules may not run more often than CHAT_MIN_INTERVAL_SECONDS, cron included."""
        minimum = self.settings.chat_min_interval_seconds
        when = add.when
        if when.schedule_type == "one_time":
            return None
        if when.schedule_type == "interval":
            gap = float(when.interval_seconds or 0)
        else:
            if when.schedule_type == "rrule":
                rule = TimeRule(ScheduleType.RRULE, when.timezone, rrule=when.rrule, start_date=when.start,
                                anchor=when.start)
            else:
                rule = TimeRule(ScheduleType.CRON, when.timezone, cron_expression=when.cron_expression)
            times = occurrences(rule, self.clock.now(), 25)
            gap = min(((b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)), default=minimum)
        if gap >= minimum:
            return None
        every = f"{minimum // 60} minutes" if minimum % 60 == 0 else f"{minimum} seconds"
        return (f"That's too often for chat: at most once every {every}. "
                f"Try: !schedule add every {every} say Drink some water")

    async def _say_workflow(self, community_id: str, actor: str) -> str:
        found = await self.workflows.find_by_name(SAY_WORKFLOW, community_id)
        if found is not None:
            return found.workflow_id
        steps = [{"action": "chat_message", "message": "{{ trigger.context_data.message }}",
                  "entity_id": "{{ trigger.context_data.entity_id }}",
                  "platform": "{{ trigger.context_data.platform }}"}]
        try:
            created = await self.workflows.create(
                {"name": SAY_WORKFLOW, "description": "Posts a schedule's message to the chat", "steps": steps,
                 "community_id": community_id}, actor=actor, scope=community_id)
            return created.workflow_id
        except Conflict:  # created by a concurrent command
            again = await self.workflows.find_by_name(SAY_WORKFLOW, community_id)
            assert again is not None
            return again.workflow_id

    async def _free_name(self, base: str, community_id: str) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-")[:30].strip("-") or "schedule"
        taken = {s.name.lower() for s in await self._all(community_id)}
        if slug not in taken:
            return slug
        return next(f"{slug}-{n}" for n in range(2, len(taken) + 3) if f"{slug}-{n}" not in taken)

    async def _add(self, command: c.Add, ctx: ChatContext, community: Community) -> str:
        refusal = self._too_often(command)
        if refusal:
            return refusal
        if command.say is not None:
            workflow_id = await self._say_workflow(ctx.community_id, ctx.actor)
            context = {"message": command.say, "community_id": ctx.community_id, "entity_id": ctx.entity_id,
                       "platform": ctx.platform or community.platform or ""}
            base = " ".join(command.say.split()[:4])
        else:
            assert command.run is not None
            workflow = (await self.workflows.find_by_name(command.run, ctx.community_id)
                        or await self.workflows.find_by_name(command.run, None))
            if workflow is None:
                return f'I can\'t find a workflow named "{command.run}" in this community. Check its exact name.'
            workflow_id, context, base = workflow.workflow_id, {"community_id": ctx.community_id}, workflow.name
        name = command.name or await self._free_name(base, ctx.community_id)
        # A one-time schedule is described as "once": its time is shown beside it, and words like
        # "today at 20:00" or "in 10 minutes" would be wrong by tomorrow.
        description = "once" if command.when.schedule_type == "one_time" else command.when.text
        spec = schedule_spec(command) | {"workflow_id": workflow_id, "name": name, "context_data": context,
                                         "description": description, "community_id": ctx.community_id}
        created = await self.schedules.add_schedule(spec, actor=ctx.actor, scope=ctx.community_id)
        zone = community.timezone
        limits = "".join([f", until {self._at(command.until, zone)}" if command.until else "",
                          f", {command.times} times" if command.times else ""])
        when = command.when.text + (f" ({zone})" if zone != "UTC" else "")
        note = f" {command.when.note}" if command.when.note else ""
        if created.schedule_type.value == "one_time":
            return f'Scheduled "{created.name}" for {self._at(created.scheduled_time, zone)} ({zone}).{note}'
        return f'Scheduled "{created.name}": {when}{limits}, next {self._at(created.next_execution_at, zone)}.{note}'

    async def _on(self, target: c.Target, ctx: ChatContext,
                  act: Callable[[Schedule], Awaitable[str]]) -> str:
        """Find the schedule a command names, then act on it (or say it is not there)."""
        found = await self._target(target, ctx)
        return found if isinstance(found, str) else await act(found[1])

    async def _pause(self, command: c.Pause, ctx: ChatContext, community: Community) -> str:
        request = {"reason": command.reason, "until": command.until}

        async def act(found: Schedule) -> str:
            s = await self.schedules.pause_schedule(found.schedule_id, actor=ctx.actor, scope=ctx.community_id,
                                                    request=request)
            end = f" until {self._at(s.paused_until, community.timezone)}" if s.paused_until else ""
            why = f" ({s.pause_reason})" if s.pause_reason else ""
            return f'Paused "{s.name}"{end}{why}. Start it again with: !schedule resume {s.name}'

        return await self._on(command.target, ctx, act)

    async def _resume(self, command: c.Resume, ctx: ChatContext, community: Community) -> str:
        async def act(found: Schedule) -> str:
            s = await self.schedules.resume_schedule(found.schedule_id, actor=ctx.actor, scope=ctx.community_id)
            return f'Resumed "{s.name}": next {self._at(s.next_execution_at, community.timezone)}.'

        return await self._on(command.target, ctx, act)

    async def _remove(self, command: c.Remove, ctx: ChatContext, community: Community) -> str:
        async def act(found: Schedule) -> str:
            await self.schedules.remove_schedule(found.schedule_id, actor=ctx.actor, scope=ctx.community_id)
            return f'Removed "{found.name}".'

        return await self._on(command.target, ctx, act)

    async def _run(self, command: c.RunNow, ctx: ChatContext, community: Community) -> str:
        async def act(found: Schedule) -> str:
            await self.scheduler.run_now(found.schedule_id, actor=ctx.actor, scope=ctx.community_id)
            return f'Running "{found.name}" now.'

        return await self._on(command.target, ctx, act)

    async def _rename(self, command: c.Rename, ctx: ChatContext, community: Community) -> str:
        async def act(found: Schedule) -> str:
            s = await self.schedules.update_schedule(found.schedule_id, {"name": command.new_name}, actor=ctx.actor,
                                                     scope=ctx.community_id)
            return f'Renamed "{found.name}" to "{s.name}".'

        return await self._on(command.target, ctx, act)

    async def _alerts(self, command: c.Alerts, ctx: ChatContext, community: Community) -> str:
        async def act(found: Schedule) -> str:
            return _alerts_text(found)

        return await self._on(command.target, ctx, act)

    async def _set_alerts(self, command: c.SetAlerts, ctx: ChatContext, community: Community) -> str:
        async def act(found: Schedule) -> str:
            current = found.alerts
            if not command.on:
                if not current or not current.get("enabled", True):
                    return f'Alerts for "{found.name}" are already off.'
                changed = {**current, "enabled": False}
            else:
                changed = _alerts_on(current, ctx)
            s = await self.schedules.update_schedule(found.schedule_id, {"alerts": changed}, actor=ctx.actor,
                                                     scope=ctx.community_id)
            return _alerts_text(s)

        return await self._on(command.target, ctx, act)

    async def _timezone(self, command: c.SetTimezone, ctx: ChatContext, community: Community) -> str:
        await self.communities.set_timezone(ctx.community_id, command.zone, actor=ctx.actor)
        now = to_local(self.clock.now(), command.zone)
        return (f"Times here are now read in {command.zone} (it is {now:%H:%M} there). "
                "Existing schedules keep their own zone.")

    async def _date_order(self, command: c.DateOrder, ctx: ChatContext, community: Community) -> str:
        order = community.reads_dates
        if order is None:
            return (f"Dates like 01/02 get a question back here: {community.timezone} has no single usual order. "
                    "Set one: !schedule dateorder dmy (01/02 is 1 Feb) or mdy (Jan 2)")
        source = "as set here" if community.date_order else f"as usual in {community.timezone}"
        other = "mdy" if order == "dmy" else "dmy"
        return (f"Dates like 01/02 are read {_ORDER_WORDS[order]} here, {source}. 24/12 and 12/24 read one way "
                f"anyway. Change it with: !schedule dateorder {other}")

    async def _set_date_order(self, command: c.SetDateOrder, ctx: ChatContext, community: Community) -> str:
        updated = await self.communities.set_date_order(ctx.community_id, command.order, actor=ctx.actor)
        order = updated.reads_dates
        if command.order is not None:
            return f"Dates like 01/02 are now read {_ORDER_WORDS[command.order]} here."
        if order is None:
            return (f"Dates like 01/02 now follow the time zone {updated.timezone}, which has no single usual "
                    "order, so they get a question back.")
        return f"Dates like 01/02 now follow the time zone {updated.timezone}: {_ORDER_WORDS[order]}."

    # ---- community settings ---------------------------------------------------------------

    def _manager_list(self, managers: tuple[str, ...]) -> str:
        if not managers:
            return "No schedule managers yet. A manager or the operator adds them: !schedule managers add <user id>"
        budget = self.settings.chat_reply_max_chars - 80
        shown: list[str] = []
        for user_id in managers:
            if sum(len(s) + 2 for s in shown) + len(user_id) > budget:
                more = len(managers) - len(shown)
                return f"Schedule managers here ({len(managers)}): {', '.join(shown)}, …and {more} more"
            shown.append(user_id)
        return f"Schedule managers here: {', '.join(shown)}"

    async def _managers(self, command: c.Managers, ctx: ChatContext, community: Community) -> str:
        return self._manager_list(community.managers)

    async def _add_managers(self, command: c.AddManagers, ctx: ChatContext, community: Community) -> str:
        new = [u for u in command.user_ids if u not in community.managers]
        if not new:
            return f"{self._are_managers(command.user_ids, 'already')} here."
        too_many = (f"A community has at most {MAX_MANAGERS} schedule managers. Remove one first: "
                    f"{EXAMPLES['managers_remove']}")
        if len(community.managers) + len(new) > MAX_MANAGERS:
            return too_many
        try:
            updated = await self.communities.change_managers(ctx.community_id, actor=ctx.actor, add=new)
        except LimitExceeded:  # a concurrent change got there first
            return too_many
        added = "a schedule manager" if len(new) == 1 else "schedule managers"
        return f"Added {', '.join(new)} as {added}. {self._manager_list(updated.managers)}."

    async def _remove_managers(self, command: c.RemoveManagers, ctx: ChatContext, community: Community) -> str:
        present = [u for u in command.user_ids if u in community.managers]
        absent = [u for u in command.user_ids if u not in community.managers]
        if not present:
            return f"{self._are_managers(absent, 'not')} here. See who is: !schedule managers"
        if ctx.roles is None and set(community.managers) <= set(present):
            # Without roles from the router, managers are the only way in: keep at least one.
            return ("That would leave no schedule managers, and nobody could change schedules here in chat. "
                    "Add another one first: !schedule managers add <user id>")
        updated = await self.communities.change_managers(ctx.community_id, actor=ctx.actor, remove=present)
        note = f" ({self._are_managers(absent, 'not')}.)" if absent else ""
        return f"Removed {', '.join(present)}.{note} {self._manager_list(updated.managers)}."

    async def _platform(self, command: c.Platform, ctx: ChatContext, community: Community) -> str:
        if community.platform is None:
            return f"No platform is set for this community. A manager sets it: {EXAMPLES['platform']}"
        return f"This community is on {community.platform}. Change it with: !schedule platform <{'|'.join(PLATFORMS)}>"

    async def _set_platform(self, command: c.SetPlatform, ctx: ChatContext, community: Community) -> str:
        await self.communities.set_platform(ctx.community_id, command.platform, actor=ctx.actor)
        return f"This community is now on {command.platform}; scheduled messages are posted there."

    @staticmethod
    def _are_managers(user_ids: Sequence[str], word: str) -> str:
        """'123 is already a schedule manager', '1, 2 are not schedule managers'."""
        if len(user_ids) == 1:
            return f"{user_ids[0]} is {word} a schedule manager"
        return f"{', '.join(user_ids)} are {word} schedule managers"


def _fit_entries(entries: list[tuple[str, str, str]], room: int) -> list[str]:
    """`head + description + tail` for each entry, fitting `room` characters in all: the longest
    entries give up the end of their description first (marked "…"), down to the same length for
    all; a description that cannot keep a few characters is left out. Heads (number and name) and
    tails (the next run) are kept whole."""
    fixed = [len(head) + len(tail) for head, _, tail in entries]
    full = [f + len(text) for f, (_, text, _) in zip(fixed, entries, strict=True)]

    def length(i: int, cap: int) -> int:
        if full[i] <= cap:
            return full[i]
        return cap if cap - fixed[i] >= _MIN_SHOWN else fixed[i]

    cap = max(full, default=0)
    while cap > 0 and sum(length(i, cap) for i in range(len(entries))) > room:
        cap -= 1
    out = []
    for i, (head, text, tail) in enumerate(entries):
        if full[i] <= cap:
            out.append(head + text + tail)
        elif cap - fixed[i] >= _MIN_SHOWN:
            out.append(head + text[: cap - fixed[i] - 1].rstrip() + "…" + tail)
        else:
            out.append(head + tail.removeprefix("; "))
    return out


def _alerts_on(current: dict[str, Any] | None, ctx: ChatContext) -> dict[str, Any]:
    """A schedule's alerts switched on, posting into the channel the command came from unless a chat
    channel is set already (the most channels a schedule has: MAX_CHANNELS)."""
    here: dict[str, Any] = {"type": "chat"}
    if ctx.entity_id.strip():
        here["entity_id"] = ctx.entity_id.strip()[:MAX_ENTITY_CHARS]
    if ctx.platform in PLATFORMS:
        here["platform"] = ctx.platform
    if not current:
        return {"on": list(DEFAULT_EVENTS), "channels": [here]}
    channels = list(current.get("channels") or [])
    if not any(ch.get("type") == "chat" for ch in channels) and len(channels) < MAX_CHANNELS:
        channels.append(here)
    return {**current, "enabled": True, "channels": channels}


def _alerts_text(s: Schedule) -> str:
    """What a schedule's alerts are, in one line."""
    alerts = s.alerts
    if not alerts or not alerts.get("enabled", True):
        return f'Alerts for "{s.name}" are off. Turn them on here with: !schedule alerts {s.name} on'
    kinds = [ch.get("type") for ch in alerts.get("channels") or []]
    where = ", ".join(f"{kinds.count(k)} {k}" for k in ("chat", "webhook") if k in kinds)
    after = alerts.get("after_consecutive", 1)
    rule = f" after {after} failures in a row" if after > 1 else ""
    return (f'Alerts for "{s.name}" are on: {", ".join(alerts.get("on") or DEFAULT_EVENTS)}{rule}, '
            f"to {where}. Stop them with: !schedule alerts {s.name} off")
