"""Migrations and the async facade, on a SQLite file and on the real PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from workflow_core_module.db.database import Database
from workflow_core_module.db.migrations import (
    MIGRATIONS_DIR,
    current_version,
    discover,
    migrate,
    migrate_down_one,
    split_statements,
)

from .conftest import service_unavailable


async def _tables(database: Database) -> set[str]:
    if database.is_sqlite:
        sql = "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
    else:
        sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
    return {row[0] for row in await database.read(lambda dal: dal.executesql(sql))}


async def _columns(database: Database, table: str) -> set[str]:
    if database.is_sqlite:
        rows = await database.read(lambda dal: dal.executesql(f"PRAGMA table_info({table})"))
        return {row[1] for row in rows}
    rows = await database.read(lambda dal: dal.executesql(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND table_schema = current_schema()",
        placeholders=(table,),
    ))
    return {row[0] for row in rows}


EXPECTED_TABLES = {
    "workflow_schedules", "workflow_schedule_runs", "workflows", "workflow_executions", "api_keys",
    "audit_log", "scheduler_replicas", "communities", "scheduler_control", "schedule_alerts", "schema_migrations",
}


async def test_migrations_up_down_up(database_url: str) -> None:
    database = await Database.connect(database_url)
    try:
        await migrate(database, 0)  # from nothing, whatever earlier tests left
        assert await _tables(database) == {"schema_migrations"}
        newest = discover(database.dialect.name)[-1].version
        done = await migrate(database)
        assert done and done[-1].startswith(f"up {newest:04d}")
        assert await _tables(database) == EXPECTED_TABLES
        assert await migrate(database) == []  # idempotent
        down = await migrate_down_one(database)
        assert down == [f"down {newest:04d}_{discover(database.dialect.name)[-1].name}"]
        assert await current_version(database) == newest - 1
        await migrate(database, 0)
        assert await _tables(database) == {"schema_migrations"}
        await migrate(database)
        assert await _tables(database) == EXPECTED_TABLES
        assert await current_version(database) == newest
    finally:
        await database.close()


async def _schema(database: Database) -> dict[str, Any]:
    """Tables with their columns, and indexes with their definitions: what a migration step changes."""
    tables = await _tables(database) - {"schema_migrations"}
    if database.is_sqlite:
        sql = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'"
    else:
        sql = ("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
               "AND indexname NOT LIKE '%_pkey'")
    indexes = {(row[0], " ".join(str(row[1]).split())) for row in await database.read(lambda dal: dal.executesql(sql))}
    return {"tables": {t: await _columns(database, t) for t in sorted(tables)}, "indexes": indexes}


async def test_every_migration_steps_down_one_and_up_again(database_url: str) -> None:
    """For each step N: up to N, down one, up again. The down must undo exactly what its up did
    (the schema is the one seen at N-1 on the way up), so applying N again works: a down that
    forgets a column fails here with "duplicate column" at once, instead of at 3 a.m."""
    database = await Database.connect(database_url)
    try:
        await migrate(database, 0)
        versions = [m.version for m in discover(database.dialect.name)]
        seen = {0: await _schema(database)}
        for version in versions:
            await migrate(database, version)
            seen[version] = await _schema(database)
            assert seen[version] != seen[seen_before(seen, version)], f"migration {version} changed nothing"
            down = await migrate_down_one(database)
            assert len(down) == 1 and down[0].startswith(f"down {version:04d}"), down
            below = seen_before(seen, version)
            assert await current_version(database) == below
            assert await _schema(database) == seen[below], f"down {version:04d} left the schema changed"
            up = await migrate(database, version)
            assert len(up) == 1 and up[0].startswith(f"up {version:04d}"), up
            assert await _schema(database) == seen[version]
        assert await current_version(database) == versions[-1]
    finally:  # back to the newest schema from scratch, whatever a failed step left behind
        await migrate(database, 0)
        await migrate(database)
        await database.close()


def seen_before(seen: dict[int, Any], version: int) -> int:
    return max(v for v in seen if v < version)


async def test_pydal_tables_match_the_migrated_columns(database: Database) -> None:
    for table in database.dal.tables:
        defined = set(database.dal[table].fields)
        assert defined == await _columns(database, table), table


async def test_design_indexes_exist(database: Database) -> None:
    if database.is_sqlite:
        rows = await database.read(lambda dal: dal.executesql("SELECT name FROM sqlite_master WHERE type='index'"))
    else:
        rows = await database.read(lambda dal: dal.executesql("SELECT indexname FROM pg_indexes"))
    names = {row[0] for row in rows}
    for index in ("ix_schedules_due", "ix_schedules_workflow", "ix_schedules_community", "ix_schedules_type",
                  "ux_schedules_community_name", "ux_runs_schedule", "ix_runs_unfinished", "ix_runs_scheduled_for"):
        assert index in names


def test_every_migration_has_both_directions_for_both_engines() -> None:
    sqlite = [(m.version, m.name) for m in discover("sqlite")]
    postgres = [(m.version, m.name) for m in discover("postgres")]
    assert sqlite == postgres and sqlite
    for migration in discover("sqlite") + discover("postgres"):
        assert split_statements(migration.up) and split_statements(migration.down)


async def test_sqlite_runs_in_wal_mode(sqlite_database: Database) -> None:
    mode = await sqlite_database.read(lambda dal: dal.executesql("PRAGMA journal_mode")[0][0])
    assert mode.lower() == "wal"


async def test_sqlite_folder_is_created(tmp_path: Path) -> None:
    database = await Database.connect(f"sqlite://{tmp_path}/deep/er/db.sqlite")
    try:
        await migrate(database)
        assert (tmp_path / "deep" / "er" / "db.sqlite").is_file()
    finally:
        await database.close()


async def test_no_database_call_runs_on_the_event_loop_thread(database: Database) -> None:
    loop_thread = threading.current_thread()
    seen: list[threading.Thread] = []
    adapter = database.dal._adapter
    original = adapter.execute

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(threading.current_thread())
        return original(*args, **kwargs)

    adapter.execute = spy
    try:
        await database.write(lambda dal: dal.audit_log.insert(
            at="2026-01-01 00:00:00", actor="t", action="a", entity_type="x", changes={}))
        await database.read(lambda dal: dal(dal.audit_log).count())
    finally:
        adapter.execute = original
    assert seen and all(t is not loop_thread for t in seen)
    assert {t.name.split("-")[1] for t in seen} <= {"writer", "reader"}


async def test_a_unit_of_work_commits_or_rolls_back_as_a_whole(database: Database) -> None:
    def half(dal: Any) -> None:
        dal.audit_log.insert(at="2026-01-01 00:00:00", actor="t", action="first", entity_type="x", changes={})
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await database.write(half)
    assert await database.read(lambda dal: dal(dal.audit_log).count()) == 0


async def test_group_commit_isolates_each_unit(database: Database) -> None:
    def insert(dal: Any, i: int) -> int:
        dal.audit_log.insert(at="2026-01-01 00:00:00", actor="t", action=f"a{i}", entity_type="x", changes={"i": i})
        if i % 5 == 0:
            raise ValueError(i)
        return i

    results = await asyncio.gather(*[database.write(insert, i) for i in range(300)], return_exceptions=True)
    failed = [r for r in results if isinstance(r, ValueError)]
    assert len(failed) == 60
    assert [r for r in results if not isinstance(r, BaseException)] == [i for i in range(300) if i % 5]
    assert await database.read(lambda dal: dal(dal.audit_log).count()) == 240


async def test_a_constraint_failure_inside_a_group_spares_the_others(database: Database) -> None:
    def insert_key(dal: Any, name: str) -> str:
        dal.api_keys.insert(name=name, key_hash=hashlib.sha256(name.encode()).hexdigest(), key_prefix="p", created_at="2026-01-01 00:00:00")
        return name

    names = [f"k{i % 40}" for i in range(80)]  # every name twice: the second of each must fail
    results = await asyncio.gather(*[database.write(insert_key, n) for n in names], return_exceptions=True)
    assert sum(isinstance(r, BaseException) for r in results) == 40
    assert await database.read(lambda dal: dal(dal.api_keys).count()) == 40


async def test_postgres_unreachable_fails_fast_with_a_clear_error() -> None:
    with pytest.raises(Exception) as info:
        await Database.connect("postgres://nobody@127.0.0.1:1/nothing")
    assert "1" in str(info.value) or "connect" in str(info.value).lower()


def test_migrations_folder_is_at_the_repository_root() -> None:
    assert MIGRATIONS_DIR == Path(__file__).resolve().parents[1] / "migrations"


async def test_replicas_starting_together_on_an_empty_postgres_all_migrate() -> None:
    """Several processes apply the migrations of a fresh PostgreSQL database at once (replicas
    started together): none fails (the migrations table is created under the migration lock)
    and each migration is applied once."""
    base = os.environ.get("TEST_POSTGRES_URL")
    if not base:
        service_unavailable("PostgreSQL", "TEST_POSTGRES_URL is not set")
    import psycopg2

    admin = psycopg2.connect(base, connect_timeout=5)
    admin.autocommit = True
    try:
        for attempt in range(4):  # the race is narrow: a few fresh databases make it show
            name = f"wcm_race_{uuid.uuid4().hex[:10]}"
            with admin.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
            url = base.rsplit("/", 1)[0] + "/" + name
            replicas = [await Database.connect(url, reader_threads=1) for _ in range(6)]
            try:
                done = await asyncio.gather(*(migrate(db) for db in replicas), return_exceptions=True)
                assert not [d for d in done if isinstance(d, BaseException)], (attempt, done)
                applied = [line for lines in done for line in lines]  # type: ignore[union-attr]
                assert sorted(applied) == sorted(set(applied)), applied  # each migration once
                assert await current_version(replicas[0]) == max(m.version for m in discover("postgres"))
            finally:
                for db in replicas:
                    await db.close()
                with admin.cursor() as cur:
                    cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()
