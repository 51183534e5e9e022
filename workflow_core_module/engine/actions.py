"""Built-in step actions: http_request, log, delay, command, chat_message.

An action is ``async def run(params, context) -> output``; `params` are the step's fields with
templates already rendered. A step fails by raising :class:`StepFailed` with a readable
message. Each action may also have ``validate(params, checks) -> {field: message}``, used
when a workflow is written, so a bad step is refused before it is ever scheduled.

Everything in `params` was typed by someone we do not trust (DESIGN.md, "Trust boundaries"):
URLs go through the outbound policy, header names and values are checked, a command runs with
a minimal environment, and a chat message goes only into the community that runs it.

Their parameters are declared for the API's documentation in :mod:`.steps`; the trigger data
they see in :mod:`workflow_core_module.scheduling.trigger`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import httpx
import yaml
from jinja2 import StrictUndefined

from ..config import CHAT_PLATFORMS
from .outbound import MAX_RESPONSE_BYTES, OutboundPolicy, OutboundRefused, fetch
from .templates import check_template, is_template

log = logging.getLogger(__name__)

MAX_OUTPUT_CHARS = 16_384
HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
HTTP_METHODS: tuple[str, ...] = get_args(HttpMethod)
DEFAULT_HTTP_METHOD: HttpMethod = "GET"
DEFAULT_HTTP_TIMEOUT_SECONDS = 30.0
MAX_DELAY_SECONDS = 24 * 3600
MAX_HTTP_TIMEOUT_SECONDS = 300.0


class StepFailed(Exception):
    """A step did not succeed. `output` is kept in the step result (e.g. a command's exit code)."""

    def __init__(self, message: str, output: Any = None) -> None:
        super().__init__(message)
        self.output = output


@dataclass(frozen=True, slots=True)
class CommandSpec:
    argv: tuple[str, ...]
    cwd: str | None = None
    timeout_seconds: float = 60.0
    env: tuple[tuple[str, str], ...] = ()  # added to the minimal environment a command runs with


# What a command's process inherits from the service: nothing but these (and the entry's `env`).
COMMAND_BASE_ENV = ("PATH", "LANG", "HOME")
_DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


def command_env(spec: CommandSpec) -> dict[str, str]:
    """The environment of a command: PATH, LANG and HOME from the service, then the entry's own."""
    base = {name: os.environ[name] for name in COMMAND_BASE_ENV if name in os.environ}
    base.setdefault("PATH", _DEFAULT_PATH)
    return base | dict(spec.env)


class CommandsFileError(ValueError):
    pass


def load_commands(path: str) -> dict[str, CommandSpec]:
    """The server-side allowlist: a YAML or JSON mapping name -> {argv, cwd, timeout_seconds, env}."""
    if not path:
        return {}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandsFileError(f"COMMANDS_FILE {path!r}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise CommandsFileError(f"COMMANDS_FILE {path!r} is not valid YAML/JSON: {exc}") from None
    if not isinstance(data, dict):
        raise CommandsFileError(f"COMMANDS_FILE {path!r}: expected a mapping of name -> command")
    commands: dict[str, CommandSpec] = {}
    for name, entry in data.items():
        if isinstance(entry, list):
            entry = {"argv": entry}
        argv = entry.get("argv") if isinstance(entry, dict) else None
        if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
            raise CommandsFileError(f"COMMANDS_FILE {path!r}: command {name!r} needs argv, a list of strings")
        timeout = entry.get("timeout_seconds", entry.get("timeout", 60))
        if not isinstance(timeout, (int, float)) or timeout <= 0:
            raise CommandsFileError(f"COMMANDS_FILE {path!r}: command {name!r} has a bad timeout")
        cwd = entry.get("cwd")
        env = entry.get("env", {}) if isinstance(entry, dict) else {}
        if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, (str, int, float))
                                                for k, v in env.items()):
            raise CommandsFileError(f"COMMANDS_FILE {path!r}: command {name!r} has an env that is not a mapping "
                                    "of names to strings")
        commands[str(name)] = CommandSpec(tuple(argv), str(cwd) if cwd else None, float(timeout),
                                          tuple((k, str(v)) for k, v in env.items()))
    return commands


# ---- trigger data (declared in scheduling/trigger.py) ------------------------------------------

class TemplateTrigger(dict[str, Any]):
    """``trigger`` as templates see it: a key it does not have is undefined (``is defined``,
    ``default`` work), and using one is an error that lists the keys it has, so a typo like
    ``trigger.schedul_id`` says what was meant."""

    __slots__ = ()

    def __missing__(self, key: Any) -> Any:
        return StrictUndefined(hint=f"trigger has no key {str(key)[:100]!r}; its keys are: {', '.join(self)}",
                               obj=self, name=str(key))


@dataclass
class StepContext:
    """What an action may use while it runs."""

    execution_id: str
    workflow_id: str
    step_index: int
    http: httpx.AsyncClient
    commands: Mapping[str, CommandSpec]
    sleep: Callable[[float], Awaitable[None]]
    trigger: Mapping[str, Any] = field(default_factory=dict)
    community_id: str | None = None  # the community the run belongs to (its schedule's, or the caller's)
    outbound: OutboundPolicy = field(default_factory=OutboundPolicy)
    operator_http: httpx.AsyncClient | None = None  # for the operator's own URLs (CHAT_MESSAGE_URL)


@dataclass(frozen=True)
class WriteChecks:
    """What a step is checked against when a workflow is written."""

    commands: Mapping[str, CommandSpec] = field(default_factory=dict)
    outbound: OutboundPolicy = field(default_factory=OutboundPolicy)
    community_id: str | None = None  # the community writing it (None: a global key)

    @property
    def trusted(self) -> bool:
        return self.community_id is None


ActionRun = Callable[[dict[str, Any], StepContext], Awaitable[Any]]
ActionValidate = Callable[[Mapping[str, Any], WriteChecks], dict[str, str]]


def _clip(text: str, limit: int = MAX_OUTPUT_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more characters]"


def _tail(data: bytes, limit: int = 4096) -> str:
    text = data.decode("utf-8", errors="replace")
    return text if len(text) <= limit else "..." + text[-limit:]


# ---- http_request ------------------------------------------------------------------------

MAX_HEADERS = 50
MAX_HEADER_VALUE_CHARS = 8192
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$")  # an RFC 9110 token


def header_errors(headers: Any) -> str | None:
    """What is wrong with a step's headers (names must be tokens; no CR, LF or NUL in values)."""
    if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        return "must be an object of string values"
    if len(headers) > MAX_HEADERS:
        return f"at most {MAX_HEADERS} headers, got {len(headers)}"
    for name, value in headers.items():
        if not _HEADER_NAME.match(name):
            return f"header name {name[:60]!r} is not a valid token (letters, digits and !#$%&'*+.^_`|~-)"
        if any(c in value for c in "\r\n\0"):
            return f"header {name!r} has a CR, LF or NUL in its value"
        if len(value) > MAX_HEADER_VALUE_CHARS:
            return f"header {name!r} is longer than {MAX_HEADER_VALUE_CHARS} characters"
    return None


def validate_http(params: Mapping[str, Any], checks: WriteChecks) -> dict[str, str]:
    errors: dict[str, str] = {}
    url = params.get("url")
    if not isinstance(url, str) or not url.strip():
        errors["url"] = "required: the URL to call"
    elif not is_template(url):
        problem = checks.outbound.check_url(url)
        if problem:
            errors["url"] = problem
    method = params.get("method", DEFAULT_HTTP_METHOD)
    if not isinstance(method, str) or method.upper() not in HTTP_METHODS:
        errors["method"] = f"must be one of {', '.join(HTTP_METHODS)}"
    problem = header_errors(params.get("headers", {}))
    if problem:
        errors["headers"] = problem
    timeout = params.get("timeout_seconds", DEFAULT_HTTP_TIMEOUT_SECONDS)
    number = isinstance(timeout, (int, float)) and not isinstance(timeout, bool)
    if not number or not 0 < timeout <= MAX_HTTP_TIMEOUT_SECONDS:
        errors["timeout_seconds"] = f"must be a number of seconds in (0, {MAX_HTTP_TIMEOUT_SECONDS:g}]"
    return errors


async def run_http(params: dict[str, Any], context: StepContext) -> dict[str, Any]:
    method = str(params.get("method", DEFAULT_HTTP_METHOD)).upper()
    url = str(params["url"])
    problem = context.outbound.check_url(url)
    if problem:
        raise StepFailed(f"url {url[:200]!r} refused: {problem}; nothing was sent")
    headers = params.get("headers") or {}
    problem = header_errors(headers)
    if problem:
        raise StepFailed(f"headers: {problem}; nothing was sent")
    return await send(context.http, method, url, headers=headers, body=params.get("body"),
                      timeout_seconds=float(params.get("timeout_seconds", DEFAULT_HTTP_TIMEOUT_SECONDS)))


async def send(client: httpx.AsyncClient, method: str, url: str, *, headers: Mapping[str, str],
               body: Any, timeout_seconds: float) -> dict[str, Any]:
    """One request; at most MAX_RESPONSE_BYTES of the answer are read and kept."""
    kwargs: dict[str, Any] = {"headers": dict(headers)}
    if body is not None:
        kwargs["json"] = body
    try:
        response, (data, truncated) = await fetch(client, method, url, timeout_seconds=timeout_seconds, **kwargs)
    except OutboundRefused as exc:
        raise StepFailed(f"{exc}; nothing was sent") from None
    except (httpx.TimeoutException, TimeoutError):
        raise StepFailed(f"{method} {url} timed out after {timeout_seconds:g} s") from None
    except httpx.HTTPError as exc:
        raise StepFailed(f"{method} {url} failed: {type(exc).__name__}: {exc}") from None
    text = data.decode(response.encoding or "utf-8", errors="replace")
    parsed: Any
    if truncated:
        parsed = text
    else:
        try:
            parsed = json.loads(text) if text else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            parsed = _clip(text)
    output: dict[str, Any] = {"status_code": response.status_code, "body": parsed}
    if truncated:
        output["body_truncated_at_bytes"] = MAX_RESPONSE_BYTES
    if not response.is_success:
        raise StepFailed(f"{method} {url} answered {response.status_code}: {_clip(text, 300)}", output)
    return output


# ---- log, delay ----------------------------------------------------------------------------

def validate_log(params: Mapping[str, Any], _: WriteChecks) -> dict[str, str]:
    message = params.get("message")
    return {} if isinstance(message, str) else {"message": "required: the text to log"}


async def run_log(params: dict[str, Any], context: StepContext) -> dict[str, Any]:
    message = str(params["message"])
    log.info(message, extra={"category": "SYSTEM", "action": "workflow.log", "execution_id": context.execution_id,
                             "workflow_id": context.workflow_id})
    return {"message": message}


def validate_delay(params: Mapping[str, Any], _: WriteChecks) -> dict[str, str]:
    seconds = params.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds <= MAX_DELAY_SECONDS:
        return {"seconds": f"required: a number of seconds between 0 and {MAX_DELAY_SECONDS}"}
    return {}


async def run_delay(params: dict[str, Any], context: StepContext) -> dict[str, Any]:
    seconds = float(params["seconds"])
    await context.sleep(seconds)
    return {"seconds": seconds}


# ---- command -------------------------------------------------------------------------------

def validate_command(params: Mapping[str, Any], checks: WriteChecks) -> dict[str, str]:
    name = params.get("name")
    if not isinstance(name, str) or not name:
        return {"name": "required: the name of an allowlisted command"}
    if name not in checks.commands:
        if not checks.trusted:  # the allowlist's names are the operator's business
            return {"name": f"{name[:100]!r} is not a command this service allows"}
        known = ", ".join(sorted(checks.commands)) or "none (COMMANDS_FILE is not set)"
        return {"name": f"{name!r} is not in the command allowlist; known: {known}"}
    extra = set(params) - {"action", "name", "label"}
    if extra:
        return {sorted(extra)[0]: "commands take no arguments from the API; put them in COMMANDS_FILE"}
    return {}


async def run_command(params: dict[str, Any], context: StepContext) -> dict[str, Any]:
    name = str(params["name"])
    spec = context.commands.get(name)
    if spec is None:
        raise StepFailed(f"command {name!r} is not in the allowlist (COMMANDS_FILE)")
    try:
        process = await asyncio.create_subprocess_exec(
            *spec.argv, cwd=spec.cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL, env=command_env(spec),
        )
    except OSError as exc:
        raise StepFailed(f"command {name!r} could not start: {exc.strerror or exc}") from None
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), spec.timeout_seconds)
    except asyncio.TimeoutError:
        process.kill()
        stdout, stderr = await process.communicate()
        raise StepFailed(f"command {name!r} timed out after {spec.timeout_seconds:g} s",
                         {"exit_code": None, "stdout": _tail(stdout), "stderr": _tail(stderr)}) from None
    except asyncio.CancelledError:
        process.kill()
        await process.wait()
        raise
    output = {"exit_code": process.returncode, "stdout": _tail(stdout), "stderr": _tail(stderr)}
    if process.returncode != 0:
        raise StepFailed(f"command {name!r} exited with {process.returncode}: {_tail(stderr, 300)}", output)
    return output


# ---- chat_message -------------------------------------------------------------------------

def validate_chat_message(params: Mapping[str, Any], checks: WriteChecks) -> dict[str, str]:
    errors = {} if isinstance(params.get("message"), str) and params["message"].strip() else {
        "message": "required: the text to post"}
    for name in ("entity_id", "platform"):
        if not isinstance(params.get(name), str):
            errors[name] = "required: a string (usually a template like {{ trigger.context_data.%s }})" % name
    community = params.get("community_id")
    if community is not None and not isinstance(community, str):
        errors["community_id"] = "a string, or leave it out: messages go to the community that runs the workflow"
    elif (isinstance(community, str) and not is_template(community) and checks.community_id is not None
          and community != checks.community_id):
        errors["community_id"] = (f"this key acts for community {checks.community_id!r}; a chat message goes "
                                  "only to the community that runs it (leave community_id out)")
    return errors


def chat_community(params: Mapping[str, Any], context: StepContext) -> str:
    """The community a chat message goes to: always the run's own; a step may not name another."""
    named = str(params.get("community_id") or "").strip()
    if context.community_id is None:  # a run of a global key's schedule or call: trusted
        if not named:
            raise StepFailed("chat_message: this run belongs to no community; set community_id on the step")
        return named
    if named and named != context.community_id:
        raise StepFailed(f"chat_message: this run belongs to community {context.community_id!r} and may not "
                         f"post into {named[:100]!r}; nothing was sent")
    return context.community_id


@dataclass(frozen=True)
class ChatOutbound:
    """Where and how chat_message posts (all from the operator's settings)."""

    url: str = ""  # CHAT_MESSAGE_URL
    format: str = "generic"  # CHAT_MESSAGE_FORMAT: generic | waddlebot
    headers: tuple[tuple[str, str], ...] = ()  # CHAT_MESSAGE_HEADERS
    default_platform: str = ""  # CHAT_DEFAULT_PLATFORM
    router_key: str = ""  # ROUTER_SERVICE_KEY, sent as X-Service-Key to WaddleBot's router
    platform_of: Callable[[str], Awaitable[str | None]] | None = None  # a community's own platform


async def chat_platform(params: Mapping[str, Any], community: str, chat: ChatOutbound) -> str:
    """The community's platform setting, else the step's own, else CHAT_DEFAULT_PLATFORM."""
    own = await chat.platform_of(community) if chat.platform_of is not None else None
    named = str(params.get("platform") or "").strip().lower()
    if chat.format == "waddlebot" and named not in CHAT_PLATFORMS:
        named = ""  # the router knows these four only
    return own or named or chat.default_platform


async def post_chat(chat: ChatOutbound, client: httpx.AsyncClient, *, community: str, platform: str, entity: str,
                    message: str, event_id: str) -> dict[str, Any]:
    """POST `message` to CHAT_MESSAGE_URL for `community`, in CHAT_MESSAGE_FORMAT (see
    :func:`chat_message_action`); StepFailed says why nothing was sent or what the router answered."""
    if not chat.url:
        raise StepFailed("CHAT_MESSAGE_URL is not set, so there is nowhere to post chat messages")
    headers = dict(chat.headers)
    if chat.format == "waddlebot":
        if platform not in CHAT_PLATFORMS:
            raise StepFailed(f"chat_message: community {community!r} has no chat platform; set it with "
                             "!schedule platform twitch, PUT /api/v1/communities/{id}/chat "
                             "or CHAT_DEFAULT_PLATFORM")
        if not entity:
            raise StepFailed("chat_message: no channel to post into (entity_id is empty)")
        body: dict[str, Any] = {"event_id": event_id, "response": message, "platform": platform,
                                "channel_id": entity}
        if chat.router_key:
            headers["X-Service-Key"] = chat.router_key
    else:
        body = {"community_id": community, "entity_id": entity, "platform": platform, "message": message}
    return await send(client, "POST", chat.url, headers=headers, body=body, timeout_seconds=15)


def chat_message_action(chat: ChatOutbound) -> ActionRun:
    """POST the message to CHAT_MESSAGE_URL (the router's send endpoint), in its format:

    * generic: ``{"community_id", "entity_id", "platform", "message"}``;
    * waddlebot: exactly ``{"event_id", "response", "platform", "channel_id"}`` (WaddleBot's
      ``POST /api/v1/router/responses``), event_id being the run (or execution) id.

    CHAT_MESSAGE_URL is the operator's own, so it is reached without the outbound policy."""

    async def run(params: dict[str, Any], context: StepContext) -> dict[str, Any]:
        community = chat_community(params, context) if chat.url else ""
        event = str(context.trigger.get("run_id") or context.execution_id)
        return await post_chat(chat, context.operator_http or context.http, community=community,
                               platform=await chat_platform(params, community, chat) if chat.url else "",
                               entity=str(params.get("entity_id") or "").strip(), message=str(params["message"]),
                               event_id=event)

    return run


BUILTIN_ACTIONS: dict[str, tuple[ActionRun, ActionValidate]] = {
    "http_request": (run_http, validate_http),
    "log": (run_log, validate_log),
    "delay": (run_delay, validate_delay),
    "command": (run_command, validate_command),
}


MAX_TEMPLATES_PER_WORKFLOW = 100  # each costs up to ~10 ms to compile at the per-field caps


def templates_in(value: Any, where: str) -> list[tuple[str, str]]:
    """(field, source) of every template string inside a step's params (dicts and lists walked,
    as :func:`~.templates.render` walks them)."""
    if isinstance(value, str):
        return [(where, value)] if is_template(value) else []
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in templates_in(item, f"{where}.{key}")]
    if isinstance(value, list):
        return [found for i, item in enumerate(value) for found in templates_in(item, f"{where}[{i}]")]
    return []


def template_errors(templates: list[tuple[str, str]]) -> dict[str, str]:
    """Templates that do not compile or are plainly too expensive, by field."""
    if len(templates) > MAX_TEMPLATES_PER_WORKFLOW:
        return {"steps": f"at most {MAX_TEMPLATES_PER_WORKFLOW} template fields in a workflow, "
                         f"got {len(templates)}"}
    errors: dict[str, str] = {}
    for where, source in templates:
        problem = check_template(source)
        if problem:
            errors[where] = problem
    return errors
