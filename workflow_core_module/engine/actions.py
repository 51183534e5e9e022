"""Built-in step actions: http_request, log, delay, command.

An action is ``async def run(params, context) -> output``; `params` are the step's fields with
templates already rendered. A step fails by raising :class:`StepFailed` with a readable
message. Each action may also have ``validate(params, commands) -> {field: message}``, used
when a workflow is written, so a bad step is refused before it is ever scheduled.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from .templates import check_template, is_template

log = logging.getLogger(__name__)

MAX_OUTPUT_CHARS = 16_384
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
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


class CommandsFileError(ValueError):
    pass


def load_commands(path: str) -> dict[str, CommandSpec]:
    """The server-side allowlist: a YAML or JSON mapping name -> {argv, cwd, timeout_seconds}."""
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
        commands[str(name)] = CommandSpec(tuple(argv), str(cwd) if cwd else None, float(timeout))
    return commands


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


ActionRun = Callable[[dict[str, Any], StepContext], Awaitable[Any]]
ActionValidate = Callable[[Mapping[str, Any], Mapping[str, CommandSpec]], dict[str, str]]


def _clip(text: str, limit: int = MAX_OUTPUT_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more characters]"


def _tail(data: bytes, limit: int = 4096) -> str:
    text = data.decode("utf-8", errors="replace")
    return text if len(text) <= limit else "..." + text[-limit:]


# ---- http_request ------------------------------------------------------------------------

def validate_http(params: Mapping[str, Any], _: Mapping[str, CommandSpec]) -> dict[str, str]:
    errors: dict[str, str] = {}
    url = params.get("url")
    if not isinstance(url, str) or not url.strip():
        errors["url"] = "required: the URL to call"
    elif not is_template(url) and not url.startswith(("http://", "https://")):
        errors["url"] = f"must start with http:// or https://, got {url[:60]!r}"
    method = params.get("method", "GET")
    if not isinstance(method, str) or method.upper() not in HTTP_METHODS:
        errors["method"] = f"must be one of {', '.join(HTTP_METHODS)}"
    headers = params.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        errors["headers"] = "must be an object of string values"
    timeout = params.get("timeout_seconds", 30)
    number = isinstance(timeout, (int, float)) and not isinstance(timeout, bool)
    if not number or not 0 < timeout <= MAX_HTTP_TIMEOUT_SECONDS:
        errors["timeout_seconds"] = f"must be a number of seconds in (0, {MAX_HTTP_TIMEOUT_SECONDS:g}]"
    return errors


async def run_http(params: dict[str, Any], context: StepContext) -> dict[str, Any]:
    method = str(params.get("method", "GET")).upper()
    url = str(params["url"])
    if not url.startswith(("http://", "https://")):
        raise StepFailed(f"url {url[:200]!r} is not an http(s) URL")
    body = params.get("body")
    kwargs: dict[str, Any] = {"headers": params.get("headers") or {},
                              "timeout": float(params.get("timeout_seconds", 30))}
    if body is not None:
        kwargs["json"] = body
    try:
        response = await context.http.request(method, url, **kwargs)
    except httpx.TimeoutException:
        raise StepFailed(f"{method} {url} timed out after {kwargs['timeout']:g} s") from None
    except httpx.HTTPError as exc:
        raise StepFailed(f"{method} {url} failed: {type(exc).__name__}: {exc}") from None
    text = response.text
    try:
        parsed: Any = response.json() if text else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        parsed = _clip(text)
    output = {"status_code": response.status_code, "body": parsed}
    if not response.is_success:
        raise StepFailed(f"{method} {url} answered {response.status_code}: {_clip(text, 300)}", output)
    return output


# ---- log, delay ----------------------------------------------------------------------------

def validate_log(params: Mapping[str, Any], _: Mapping[str, CommandSpec]) -> dict[str, str]:
    message = params.get("message")
    return {} if isinstance(message, str) else {"message": "required: the text to log"}


async def run_log(params: dict[str, Any], context: StepContext) -> dict[str, Any]:
    message = str(params["message"])
    log.info(message, extra={"category": "SYSTEM", "action": "workflow.log", "execution_id": context.execution_id,
                             "workflow_id": context.workflow_id})
    return {"message": message}


def validate_delay(params: Mapping[str, Any], _: Mapping[str, CommandSpec]) -> dict[str, str]:
    seconds = params.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds <= MAX_DELAY_SECONDS:
        return {"seconds": f"required: a number of seconds between 0 and {MAX_DELAY_SECONDS}"}
    return {}


async def run_delay(params: dict[str, Any], context: StepContext) -> dict[str, Any]:
    seconds = float(params["seconds"])
    await context.sleep(seconds)
    return {"seconds": seconds}


# ---- command -------------------------------------------------------------------------------

def validate_command(params: Mapping[str, Any], commands: Mapping[str, CommandSpec]) -> dict[str, str]:
    name = params.get("name")
    if not isinstance(name, str) or not name:
        return {"name": "required: the name of an allowlisted command"}
    if name not in commands:
        known = ", ".join(sorted(commands)) or "none (COMMANDS_FILE is not set)"
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
            stdin=asyncio.subprocess.DEVNULL, env={**os.environ},
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

CHAT_FIELDS = ("community_id", "entity_id", "platform")


def validate_chat_message(params: Mapping[str, Any], _: Mapping[str, CommandSpec]) -> dict[str, str]:
    errors = {} if isinstance(params.get("message"), str) and params["message"].strip() else {
        "message": "required: the text to post"}
    for name in CHAT_FIELDS:
        if not isinstance(params.get(name), str):
            errors[name] = "required: a string (usually a template like {{ trigger.context_data.%s }})" % name
    return errors


def chat_message_action(url: str) -> ActionRun:
    """POST {community_id, entity_id, platform, message} to CHAT_MESSAGE_URL (the router's send endpoint)."""

    async def run(params: dict[str, Any], context: StepContext) -> dict[str, Any]:
        if not url:
            raise StepFailed("CHAT_MESSAGE_URL is not set, so there is nowhere to post chat messages")
        body = {name: str(params.get(name, "")) for name in CHAT_FIELDS} | {"message": str(params["message"])}
        return await run_http({"method": "POST", "url": url, "body": body, "timeout_seconds": 15}, context)

    return run


BUILTIN_ACTIONS: dict[str, tuple[ActionRun, ActionValidate]] = {
    "http_request": (run_http, validate_http),
    "log": (run_log, validate_log),
    "delay": (run_delay, validate_delay),
    "command": (run_command, validate_command),
}


def template_errors(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Templates that do not compile, by field."""
    errors: dict[str, str] = {}
    for key, value in params.items():
        if isinstance(value, str):
            problem = check_template(value)
            if problem:
                errors[f"{prefix}{key}"] = problem
        elif isinstance(value, dict):
            errors.update(template_errors(value, f"{prefix}{key}."))
    return errors
