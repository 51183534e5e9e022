"""Versioned SQL migrations: ``migrations/<dialect>/NNNN_name.up.sql`` and ``.down.sql``.

Each step runs in its own transaction together with its row in ``schema_migrations``, so a
step is applied wholly or not at all. On PostgreSQL an advisory lock keeps replicas that start
together from applying the same step twice; on SQLite the write lock does the same.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .database import Database

log = logging.getLogger(__name__)


def _migrations_dir() -> Path:
    """Where the SQL files are: next to the package when installed (the wheel ships them as
    ``workflow_core_module/_migrations/``), else the checkout's top-level ``migrations/``."""
    package = Path(__file__).resolve().parents[1]
    installed = package / "_migrations"
    return installed if installed.is_dir() else package.parent / "migrations"


MIGRATIONS_DIR = _migrations_dir()
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.(up|down)\.sql$")
_LOCK_ID = 0x5C4ED  # pg_advisory_xact_lock key for migrations


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    up: str
    down: str


def discover(dialect: str, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    folder = directory / dialect
    if not folder.is_dir():
        raise MigrationError(f"no migrations folder {folder}")
    found: dict[int, dict[str, Any]] = {}
    for path in sorted(folder.iterdir()):
        match = _FILE.match(path.name)
        if not match:
            continue
        version, name, direction = int(match[1]), match[2], match[3]
        entry = found.setdefault(version, {"name": name})
        entry[direction] = path.read_text(encoding="utf-8")
    migrations = []
    for version in sorted(found):
        entry = found[version]
        if "up" not in entry or "down" not in entry:
            raise MigrationError(f"migration {version:04d} needs both an up and a down file")
        migrations.append(Migration(version, entry["name"], entry["up"], entry["down"]))
    return migrations


def split_statements(sql: str) -> list[str]:
    """Statements of a migration file: `--` comments dropped, split at `;` ending a line."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    statements, current = [], []
    for line in lines:
        current.append(line)
        if line.rstrip().endswith(";"):
            statement = "\n".join(current).strip().rstrip(";").strip()
            if statement:
                statements.append(statement)
            current = []
    rest = "\n".join(current).strip()
    if rest:
        statements.append(rest)
    return statements


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def _ensure_table(dal: Any, database: Database) -> None:
    """Under the migration lock: on PostgreSQL two processes running CREATE TABLE IF NOT EXISTS at
    once can both try to create it, and one fails on the catalog's unique index (two replicas
    starting together on an empty database)."""
    _lock(dal, database)
    dal.executesql(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version INTEGER PRIMARY KEY, name VARCHAR(200) NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )


def _applied(dal: Any) -> list[int]:
    return [int(row[0]) for row in dal.executesql("SELECT version FROM schema_migrations ORDER BY version")]


def _lock(dal: Any, database: Database) -> None:
    if not database.is_sqlite:
        dal.executesql(f"SELECT pg_advisory_xact_lock({_LOCK_ID})")


def _step(dal: Any, database: Database, migration: Migration, direction: str) -> bool:
    _lock(dal, database)
    applied = migration.version in _applied(dal)
    if (direction == "up") == applied:
        return False  # another process did it first
    for statement in split_statements(migration.up if direction == "up" else migration.down):
        dal.executesql(statement)
    mark = database.dialect.params
    if direction == "up":
        dal.executesql(
            mark("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"),
            placeholders=(migration.version, migration.name, database.dialect.ts(_now())),
        )
    else:
        dal.executesql(mark("DELETE FROM schema_migrations WHERE version = ?"), placeholders=(migration.version,))
    return True


async def current_version(database: Database) -> int:
    await database.write(_ensure_table, database)
    versions = await database.read(_applied)
    return max(versions, default=0)


async def migrate(database: Database, target: int | None = None, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Bring the schema to `target` (default: the newest version). Returns what was done."""
    migrations = discover(database.dialect.name, directory)
    newest = migrations[-1].version if migrations else 0
    target = newest if target is None else target
    if target < 0 or (target and target not in {m.version for m in migrations}):
        raise MigrationError(f"unknown migration version {target}; known: {[m.version for m in migrations]}")
    await database.write(_ensure_table, database)
    done: list[str] = []
    applied = set(await database.read(_applied))
    for migration in migrations:
        if migration.version <= target and migration.version not in applied:
            if await database.write(_step, database, migration, "up"):
                done.append(f"up {migration.version:04d}_{migration.name}")
    for migration in reversed(migrations):
        if migration.version > target and migration.version in applied:
            if await database.write(_step, database, migration, "down"):
                done.append(f"down {migration.version:04d}_{migration.name}")
    for line in done:
        log.info("migration %s", line, extra={"category": "SYSTEM", "action": "migrate"})
    return done


async def migrate_down_one(database: Database, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Revert the newest applied migration."""
    version = await current_version(database)
    if version == 0:
        return []
    earlier = [m.version for m in discover(database.dialect.name, directory) if m.version < version]
    return await migrate(database, max(earlier, default=0), directory)
