"""Command line: ``python -m workflow_core_module serve | migrate | keys | communities``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import signal
import socket
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from .config import Settings, SettingsError, load_settings
from .engine.actions import CommandsFileError, load_commands
from .engine.outbound import OutboundPolicy
from .logs import configure_logging

if TYPE_CHECKING:
    from .db.database import Database

log = logging.getLogger("workflow_core_module")


class CliError(Exception):
    """A problem the command line reports in one line (`error: ...`) and exits on with `code`."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _reason(exc: OSError) -> str:
    text = exc.strerror or str(exc)
    return text[:1].lower() + text[1:]


def _one_line(exc: BaseException) -> str:
    """An exception as one line. pyDAL puts the driver's whole traceback into its message:
    then the driver's own `SomeError: text` line is the one that says what happened."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in reversed(lines):
        found = re.match(r"^[A-Za-z_][\w.]*(?:Error|Exception|Warning): (.+)$", line)
        if found:
            return found.group(1)
    return lines[0] if lines else type(exc).__name__


def _listen(host: str, port: int) -> socket.socket:
    """Bind and listen on HOST:PORT first, before migrations, the admin key and the scheduler
    loop: a port in use stops start-up having changed nothing. Hypercorn serves this socket."""
    bare = host.strip("[]")
    where = f"[{bare}]:{port}" if ":" in bare else f"{bare}:{port}"
    sock = socket.socket(socket.AF_INET6 if ":" in bare else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((bare, port))
        sock.listen()
    except OSError as exc:  # socket.gaierror (an unknown HOST) included
        sock.close()
        raise CliError(f"cannot listen on {where}: {_reason(exc)} (set PORT or HOST)", 2) from None
    return sock


def _check_database_folder(database_url: str) -> None:
    """SQLite: the database's folder must exist or be creatable, and be writable by this user
    (SQLite writes its -wal and -shm files beside the database); an existing file must be writable.
    A bind-mounted volume owned by someone else fails here in one line, not in a traceback."""
    if not database_url.startswith("sqlite://"):
        return
    from .db.database import pydal_uri

    path = pydal_uri(database_url)[2] or ""
    folder = os.path.dirname(path) or "."
    advice = f"give uid {os.geteuid()} write access or set DATABASE_URL"
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-check-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise CliError(f"cannot write the database folder {folder} ({_reason(exc)}): {advice}", 2) from None
    if os.path.exists(path):
        try:
            os.close(os.open(path, os.O_RDWR))
        except OSError as exc:
            raise CliError(f"cannot write the database file {path} ({_reason(exc)}): {advice}", 2) from None


async def _open_database(database_url: str) -> Database:
    from .db.database import Database, describe_url

    try:
        return await Database.connect(database_url)
    except Exception as exc:
        log.debug("cannot open the database", exc_info=True)
        raise CliError(f"cannot open the database {describe_url(database_url)}: {_one_line(exc)}") from None


async def _serve(settings: Settings, sock: socket.socket) -> None:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    from .app import create_app

    app = create_app(settings)
    config = Config()
    config.bind = [f"fd://{sock.detach()}"]  # bound in main(), before anything else (hypercorn owns it now)
    config.graceful_timeout = settings.shutdown_grace_seconds
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")  # through our handler, in our format
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]


async def _migrate(settings: Settings, to: int | None, down: bool) -> list[str]:
    from .db.migrations import migrate, migrate_down_one

    database = await _open_database(settings.database_url)
    try:
        return await (migrate_down_one(database) if down else migrate(database, to))
    finally:
        await database.close()


async def _with_database(settings: Settings, what: str, work: Callable[[Any], Awaitable[None]]) -> int:
    """Open and migrate the database, run `work(database)`, and turn any refusal into one line."""
    from .db.migrations import migrate
    from .errors import DomainError

    database = await _open_database(settings.database_url)
    try:
        await migrate(database)
        await work(database)
        return 0
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except Exception as exc:  # the database refused (e.g. a value too long for a column): one line
        log.debug("%s failed", what, exc_info=True)
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 1
    finally:
        await database.close()


async def _keys(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import datetime, timezone

    from .db.key_store import KeyStore
    from .errors import DomainError
    from .scheduling.community import MAX_COMMUNITY_ID_CHARS

    if args.keys_command == "create":  # bad arguments stop before the database is touched
        problem = None
        if args.community is not None and not 1 <= len(args.community) <= MAX_COMMUNITY_ID_CHARS:
            problem = f"a community id has 1-{MAX_COMMUNITY_ID_CHARS} characters"
        try:
            KeyStore.check_name(args.name)
        except DomainError as exc:
            problem = exc.message
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2

    async def work(database: Any) -> None:
        keys = KeyStore(database)
        now = datetime.now(timezone.utc)
        if args.keys_command == "create":
            key, plain = await keys.create(args.name, args.community, now, actor="cli")
            scope = f"community {key.community_id}" if key.community_id else "every community (global)"
            print(f"created API key {key.name!r} for {scope}; it is shown only now:")
            print(plain)
        elif args.keys_command == "list":
            rows = await keys.list()
            print(f"{'name':<24} {'prefix':<10} {'community':<20} {'created':<20} {'last used':<20} state")
            for k in rows:
                print(f"{k.name:<24} {k.key_prefix:<10} {k.community_id or '(global)':<20} "
                      f"{k.created_at:%Y-%m-%d %H:%M:%S}  "
                      f"{k.last_used_at.strftime('%Y-%m-%d %H:%M:%S') if k.last_used_at else '-':<20} "
                      f"{'revoked ' + k.revoked_at.strftime('%Y-%m-%d') if k.revoked_at else 'active'}")
        elif args.keys_command == "revoke":
            await keys.revoke(args.name, now, actor="cli")
            print(f"revoked API key {args.name!r}")

    return await _with_database(settings, f"keys {args.keys_command}", work)


def _check_community_args(args: argparse.Namespace) -> str | None:
    """What is wrong with the `communities` arguments (one line), before touching the database."""
    from .scheduling.community import MAX_COMMUNITY_ID_CHARS, PLATFORMS, user_id_problem

    if not 1 <= len(args.community) <= MAX_COMMUNITY_ID_CHARS:
        return f"a community id has 1-{MAX_COMMUNITY_ID_CHARS} characters"
    if args.communities_command == "platform":
        if args.platform is not None and args.platform.strip().lower() not in PLATFORMS:
            return f"unknown platform {args.platform!r}; use one of: {', '.join(PLATFORMS)}"
        return None
    for user_id in [*args.add, *args.remove]:
        problem = user_id_problem(user_id)
        if problem:
            return f"{user_id!r}: {problem}"
    both = sorted(set(args.add) & set(args.remove))
    if both:
        return f"{', '.join(both)}: given to both --add and --remove"
    return None


async def _communities(settings: Settings, args: argparse.Namespace) -> int:
    from .clock import SystemClock
    from .services.community_service import CommunityService

    problem = _check_community_args(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2

    async def work(database: Any) -> None:
        communities = CommunityService(database, SystemClock())
        if args.communities_command == "managers":
            if args.add or args.remove:
                community = await communities.change_managers(args.community, actor="cli", add=args.add,
                                                              remove=args.remove)
            else:
                community = await communities.get(args.community)
            print(f"community {args.community} managers: {', '.join(community.managers) or '(none)'}")
        elif args.communities_command == "platform":
            if args.platform is not None:
                community = await communities.set_platform(args.community, args.platform, actor="cli")
            else:
                community = await communities.get(args.community)
            print(f"community {args.community} platform: {community.platform or '(not set)'}")

    return await _with_database(settings, f"communities {args.communities_command}", work)


def _check_outbound_allowlist(settings: Settings) -> None:
    """OUTBOUND_ALLOWLIST is read by the engine's outbound policy: a bad entry stops start-up
    here, in one line naming the setting."""
    try:
        OutboundPolicy(settings.outbound_allowlist)
    except ValueError as exc:
        raise SettingsError("OUTBOUND_ALLOWLIST", str(exc)) from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Schedules and runs workflows: serve, migrate, keys, communities.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="apply migrations and serve the API with the scheduler loop")
    migrate_cmd = commands.add_parser("migrate", help="apply (or revert) database migrations")
    group = migrate_cmd.add_mutually_exclusive_group()
    group.add_argument("--to", type=int, help="bring the schema to this version (0 removes everything)")
    group.add_argument("--down", action="store_true", help="revert the newest applied migration")
    keys_cmd = commands.add_parser("keys", help="manage API keys").add_subparsers(dest="keys_command", required=True)
    create = keys_cmd.add_parser("create", help="create a key; prints it (once) as the last line")
    create.add_argument("--name", required=True)
    create.add_argument("--community", default=None, help="limit the key to this community")
    keys_cmd.add_parser("list", help="list keys (never the keys themselves)")
    revoke = keys_cmd.add_parser("revoke", help="revoke a key by name")
    revoke.add_argument("name")
    communities_cmd = commands.add_parser("communities", help="a community's chat settings").add_subparsers(
        dest="communities_command", required=True)
    managers = communities_cmd.add_parser(
        "managers", help="show, or change, the chat users who may change schedules (prints them after)")
    managers.add_argument("community")
    managers.add_argument("--add", nargs="+", action="extend", default=[], metavar="USER", help="chat user id(s)")
    managers.add_argument("--remove", nargs="+", action="extend", default=[], metavar="USER", help="chat user id(s)")
    platform = communities_cmd.add_parser("platform", help="show, or set, the chat platform messages are posted to")
    platform.add_argument("community")
    platform.add_argument("platform", nargs="?", metavar="{twitch,discord,slack,kick}")
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
        _check_outbound_allowlist(settings)
        if args.command == "serve":
            load_commands(settings.commands_file)  # a broken allowlist stops start-up, in one line
    except (SettingsError, CommandsFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.log_level)

    try:
        if args.command == "serve":
            sock = _listen(settings.host, settings.port)  # first: a taken port changes nothing
            try:
                _check_database_folder(settings.database_url)
            except CliError:
                sock.close()
                raise
            asyncio.run(_serve(settings, sock))
            return 0
        if args.command == "migrate":
            for line in asyncio.run(_migrate(settings, args.to, args.down)) or ["schema is up to date"]:
                print(line)
            return 0
        if args.command == "keys":
            return asyncio.run(_keys(settings, args))
        if args.command == "communities":
            return asyncio.run(_communities(settings, args))
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
