"""Command line: ``python -m workflow_core_module serve | migrate``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from .config import Settings, SettingsError, load_settings
from .engine.actions import CommandsFileError, load_commands
from .logs import configure_logging

log = logging.getLogger("workflow_core_module")


async def _serve(settings: Settings) -> None:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    from .app import create_app

    app = create_app(settings)
    config = Config()
    config.bind = [f"{settings.host}:{settings.port}"]
    config.graceful_timeout = settings.shutdown_grace_seconds
    config.accesslog = None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    log.info("serving on http://%s:%s", settings.host, settings.port, extra={"category": "SYSTEM"})
    await serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]


async def _migrate(settings: Settings, to: int | None, down: bool) -> list[str]:
    from .db.database import Database
    from .db.migrations import migrate, migrate_down_one

    database = await Database.connect(settings.database_url)
    try:
        return await (migrate_down_one(database) if down else migrate(database, to))
    finally:
        await database.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workflow_core_module")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="apply migrations and serve the API with the scheduler loop")
    migrate_cmd = commands.add_parser("migrate", help="apply (or revert) database migrations")
    group = migrate_cmd.add_mutually_exclusive_group()
    group.add_argument("--to", type=int, help="bring the schema to this version (0 removes everything)")
    group.add_argument("--down", action="store_true", help="revert the newest applied migration")
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
        if args.command == "serve":
            load_commands(settings.commands_file)  # a broken allowlist stops start-up, in one line
    except (SettingsError, CommandsFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.log_level)

    if args.command == "serve":
        asyncio.run(_serve(settings))
        return 0
    if args.command == "migrate":
        for line in asyncio.run(_migrate(settings, args.to, args.down)) or ["schema is up to date"]:
            print(line)
        return 0
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
