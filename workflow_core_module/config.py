"""Settings: read once from the environment and `.env`, validated, immutable.

Every setting has a default, so an empty environment gives a working embedded service
(SQLite under ./storage, no Redis). A bad value raises :class:`SettingsError` whose message
is one line naming the setting and what is wrong with it.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dotenv import dotenv_values

DEFAULT_DATABASE_URL = "sqlite://storage/workflow_core.sqlite"
LOG_FORMATS = ("json", "text")
CHAT_MESSAGE_FORMATS = ("generic", "waddlebot")
CHAT_PLATFORMS = ("twitch", "discord", "slack", "kick")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class SettingsError(ValueError):
    """A setting could not be read. The message names the setting."""

    def __init__(self, name: str, problem: str) -> None:
        self.setting = name
        super().__init__(f"invalid setting {name}: {problem}")


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8080
    admin_api_key: str = ""
    poll_interval_seconds: float = 60.0
    schedule_grace_period_minutes: float = 15.0
    min_interval_seconds: int = 60
    max_concurrent_workflows: int = 10
    workflow_timeout_seconds: float = 3600.0
    workflow_max_retries: int = 3
    workflow_retry_base_seconds: float = 1.0
    shutdown_grace_seconds: float = 20.0
    replica_timeout_seconds: float = 30.0
    max_schedules_per_community: int = 50
    history_retention_days: int = 30
    commands_file: str = ""
    chat_message_url: str = ""
    chat_message_format: str = "generic"  # generic | waddlebot: the body chat_message posts
    chat_message_headers: tuple[tuple[str, str], ...] = ()  # static headers on every chat post
    chat_default_platform: str = ""  # twitch | discord | slack | kick, when a community has none
    router_service_key: str = ""  # the key WaddleBot's router sends; good for its two endpoints only
    outbound_allowlist: str = ""  # hosts and CIDRs user-written URLs may reach despite being internal
    webhook_signing_secret: str = ""  # signs callbacks and alert webhooks (X-Webhook-Signature) when set
    alert_webhook_url: str = ""  # the operator's: every alert of every schedule also goes there
    alert_digest_seconds: float = 60.0  # a channel gets at most one alert message in this long; the rest wait, grouped
    alert_retry_base_seconds: float = 40.0  # a failed alert is retried after this, doubled each time (5 attempts)
    alert_poll_seconds: float = 2.0  # how often a replica looks for alerts another replica wrote
    chat_manager_roles: tuple[str, ...] = ("owner", "admin", "moderator")
    chat_min_interval_seconds: int = 300
    chat_reply_max_chars: int = 400
    chat_rate_limit_per_minute: int = 10
    log_format: str = "text"
    log_level: str = "INFO"

    @property
    def default_grace_period_seconds(self) -> int:
        return int(self.schedule_grace_period_minutes * 60)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _text(name: str, raw: str) -> str:
    return raw.strip()


def _number(minimum: float, *, integer: bool, allow_equal: bool = True) -> Callable[[str, str], Any]:
    def parse(name: str, raw: str) -> Any:
        text = raw.strip()
        try:
            value: float = int(text) if integer else float(text)
        except ValueError:
            kind = "a whole number" if integer else "a number"
            raise SettingsError(name, f"expected {kind}, got {raw!r}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise SettingsError(name, f"expected a finite number, got {raw!r}")
        if value < minimum or (not allow_equal and value == minimum):
            bound = f">= {minimum:g}" if allow_equal else f"> {minimum:g}"
            raise SettingsError(name, f"must be {bound}, got {raw!r}")
        return value

    return parse


def _port(name: str, raw: str) -> int:
    value = _number(0, integer=True)(name, raw)
    if value > 65535:
        raise SettingsError(name, f"must be a TCP port 0-65535, got {raw!r}")
    return int(value)


def _choice(options: tuple[str, ...], *, upper: bool = False) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        value = raw.strip().upper() if upper else raw.strip().lower()
        if value not in options:
            raise SettingsError(name, f"must be one of {', '.join(options)}, got {raw!r}")
        return value

    return parse


def _words(name: str, raw: str) -> tuple[str, ...]:
    return tuple(w.strip().lower() for w in raw.split(",") if w.strip())


_PG_URI = re.compile(r"^postgres(?:ql)?(?:[23])?(?::psycopg2)?://[^:@/]+(?::[^@]*)?@[^/]*/[^?/]+(?:\?.*)?$")


def _database_url(name: str, raw: str) -> str:
    value = raw.strip()
    if value.startswith("sqlite://"):
        if value.startswith("sqlite:memory") or len(value) <= len("sqlite://"):
            raise SettingsError(name, f"expected sqlite://<path to file>, got {raw!r}")
        return value
    if _PG_URI.match(value):
        return value
    raise SettingsError(
        name,
        f"expected sqlite://<path> or postgres://user[:password]@host[:port]/dbname, got {raw!r}",
    )


def _redis_url(name: str, raw: str) -> str:
    value = raw.strip()
    if value and not re.match(r"^rediss?://", value) and not value.startswith("unix://"):
        raise SettingsError(name, f"expected redis://host:port/db (or empty for no Redis), got {raw!r}")
    return value


def _url_or_empty(name: str, raw: str) -> str:
    value = raw.strip()
    if value and not re.match(r"^https?://[^\s/]+", value):
        raise SettingsError(name, f"expected an http(s):// URL or nothing, got {raw!r}")
    return value


def _allowlist(name: str, raw: str) -> str:
    """Read as is; its entries are checked by the engine's outbound policy at start-up
    (``__main__``), which knows what a host or network may be."""
    return raw.strip()


def _headers(name: str, raw: str) -> tuple[tuple[str, str], ...]:
    """A JSON object of header names to string values: {"X-Token": "abc"}."""
    import json

    try:
        value = json.loads(raw)
    except ValueError:
        raise SettingsError(name, 'expected a JSON object of headers, like {"X-Token": "abc"}') from None
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", k)
            and not any(c in v for c in "\r\n\0") for k, v in value.items()):
        raise SettingsError(name, "expected a JSON object of header names (tokens) to single-line string values")
    return tuple(value.items())


def _choice_or_empty(options: tuple[str, ...]) -> Callable[[str, str], str]:
    pick = _choice(options)
    return lambda name, raw: pick(name, raw) if raw.strip() else ""


# setting name -> (field, parser)
_PARSERS: dict[str, tuple[str, Callable[[str, str], Any]]] = {
    "DATABASE_URL": ("database_url", _database_url),
    "REDIS_URL": ("redis_url", _redis_url),
    "HOST": ("host", _text),
    "PORT": ("port", _port),
    "ADMIN_API_KEY": ("admin_api_key", _text),
    "POLL_INTERVAL_SECONDS": ("poll_interval_seconds", _number(0, integer=False, allow_equal=False)),
    "SCHEDULE_GRACE_PERIOD_MINUTES": ("schedule_grace_period_minutes", _number(0, integer=False)),
    "MIN_INTERVAL_SECONDS": ("min_interval_seconds", _number(1, integer=True)),
    "MAX_CONCURRENT_WORKFLOWS": ("max_concurrent_workflows", _number(1, integer=True)),
    "WORKFLOW_TIMEOUT_SECONDS": ("workflow_timeout_seconds", _number(0, integer=False, allow_equal=False)),
    "WORKFLOW_MAX_RETRIES": ("workflow_max_retries", _number(0, integer=True)),
    "WORKFLOW_RETRY_BASE_SECONDS": ("workflow_retry_base_seconds", _number(0, integer=False)),
    "SHUTDOWN_GRACE_SECONDS": ("shutdown_grace_seconds", _number(0, integer=False)),
    "REPLICA_TIMEOUT_SECONDS": ("replica_timeout_seconds", _number(1, integer=False)),
    "MAX_SCHEDULES_PER_COMMUNITY": ("max_schedules_per_community", _number(1, integer=True)),
    "HISTORY_RETENTION_DAYS": ("history_retention_days", _number(1, integer=True)),
    "COMMANDS_FILE": ("commands_file", _text),
    "CHAT_MESSAGE_URL": ("chat_message_url", _url_or_empty),
    "CHAT_MESSAGE_FORMAT": ("chat_message_format", _choice(CHAT_MESSAGE_FORMATS)),
    "CHAT_MESSAGE_HEADERS": ("chat_message_headers", _headers),
    "CHAT_DEFAULT_PLATFORM": ("chat_default_platform", _choice_or_empty(CHAT_PLATFORMS)),
    "ROUTER_SERVICE_KEY": ("router_service_key", _text),
    "OUTBOUND_ALLOWLIST": ("outbound_allowlist", _allowlist),
    "WEBHOOK_SIGNING_SECRET": ("webhook_signing_secret", _text),
    "ALERT_WEBHOOK_URL": ("alert_webhook_url", _url_or_empty),
    "ALERT_DIGEST_SECONDS": ("alert_digest_seconds", _number(0, integer=False)),
    "ALERT_RETRY_BASE_SECONDS": ("alert_retry_base_seconds", _number(0, integer=False)),
    "ALERT_POLL_SECONDS": ("alert_poll_seconds", _number(0, integer=False, allow_equal=False)),
    "CHAT_MANAGER_ROLES": ("chat_manager_roles", _words),
    "CHAT_MIN_INTERVAL_SECONDS": ("chat_min_interval_seconds", _number(1, integer=True)),
    "CHAT_REPLY_MAX_CHARS": ("chat_reply_max_chars", _number(40, integer=True)),
    "CHAT_RATE_LIMIT_PER_MINUTE": ("chat_rate_limit_per_minute", _number(1, integer=True)),
    "LOG_FORMAT": ("log_format", _choice(LOG_FORMATS)),
    "LOG_LEVEL": ("log_level", _choice(LOG_LEVELS, upper=True)),
}

SETTING_NAMES = tuple(_PARSERS)


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: str | os.PathLike[str] | None = ".env"
) -> Settings:
    """Build :class:`Settings` from `env_file` (if it exists) overlaid by `environ`.

    `environ` defaults to ``os.environ``. Values in the environment win over the file, as
    python-dotenv does by default. Empty values mean "use the default".
    """
    merged: dict[str, str] = {}
    if env_file is not None and os.path.isfile(env_file):
        merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    merged.update(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    for name, (field, parse) in _PARSERS.items():
        raw = merged.get(name)
        if raw is None or raw.strip() == "":
            continue
        values[field] = parse(name, raw)
    return Settings(**values)
