"""Shared fixtures: real SQLite files, the real PostgreSQL (a throw-away database per session).

PostgreSQL tests read TEST_POSTGRES_URL. Without it they skip with a reason, unless
REQUIRE_SERVICES=1 (CI), where a missing server fails the run instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timezone
from typing import Any

import pytest

from workflow_core_module.clock import ManualClock
from workflow_core_module.config import Settings
from workflow_core_module.db.database import Database
from workflow_core_module.db.migrations import migrate
from workflow_core_module.services.schedule_service import ScheduleService

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
START = datetime(2026, 11, 22, 12, 0, 0, tzinfo=timezone.utc)

_TABLES = (
    "workflow_schedules", "workflow_schedule_runs", "workflows", "workflow_executions",
    "api_keys", "audit_log", "scheduler_replicas", "communities", "schedule_alerts",
)


def service_unavailable(name: str, reason: str) -> None:
    """Skip (a newcomer's laptop) or fail (CI with REQUIRE_SERVICES=1)."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{name} is required (REQUIRE_SERVICES=1) but {reason}")
    pytest.skip(f"{name} not available: {reason}")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    base = os.environ.get("TEST_POSTGRES_URL")
    if not base:
        service_unavailable("PostgreSQL", "TEST_POSTGRES_URL is not set")
    import psycopg2

    name = f"wcm_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg2.connect(base, connect_timeout=5)
    except psycopg2.OperationalError as exc:
        service_unavailable("PostgreSQL", f"cannot connect to TEST_POSTGRES_URL ({exc})".strip())
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    url = base.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """Each test using this runs once on a SQLite file and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/test.sqlite"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def sqlite_url(tmp_path: Any) -> str:
    return f"sqlite://{tmp_path}/test.sqlite"


async def _truncate(database: Database) -> None:
    """Empty every table. Only while no scheduler runs on the database: on PostgreSQL, TRUNCATE
    locks the tables one by one in _TABLES order, and a read that joins them in another order
    (the heartbeat's look for orphans reads runs, then schedules) deadlocks against it."""

    def run(dal: Any) -> None:
        if database.is_sqlite:
            for table in _TABLES:
                dal.executesql(f"DELETE FROM {table}")
        else:
            dal.executesql(f"TRUNCATE {', '.join(_TABLES)} RESTART IDENTITY")
        dal.executesql(database.dialect.params(  # maintenance mode off (its one row stays)
            "UPDATE scheduler_control SET paused = ?, reason = NULL, since = NULL, paused_by = NULL"),
            placeholders=[database.dialect.false])

    await database.write(run)


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """A migrated, empty database (SQLite file or PostgreSQL)."""
    db = await Database.connect(database_url)
    await migrate(db)
    await _truncate(db)
    try:
        yield db
    finally:
        await _truncate(db)
        await db.close()


@pytest.fixture
async def sqlite_database(sqlite_url: str) -> AsyncIterator[Database]:
    db = await Database.connect(sqlite_url)
    await migrate(db)
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


def make_settings(database_url: str, **overrides: Any) -> Settings:
    return Settings(database_url=database_url, **overrides)


@pytest.fixture
async def service(database: Database, clock: ManualClock) -> ScheduleService:
    svc = ScheduleService(database, make_settings(database.url), clock=clock)
    await svc.load_cache()
    return svc


async def add_workflow(database: Database, *, community_id: str | None = None, name: str | None = None,
                       steps: list[dict[str, Any]] | None = None, active: bool = True) -> str:
    """Insert a workflow row directly (the schedule tests need one to point at)."""
    workflow_id = str(uuid.uuid4())
    now = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)

    def run(dal: Any) -> None:
        dal.workflows.insert(
            workflow_id=workflow_id, name=name or f"wf-{workflow_id[:8]}", description="",
            community_id=community_id, steps=steps or [{"action": "log", "message": "hi"}],
            is_active=active, created_by="test", created_at=now, updated_at=now,
        )

    await database.write(run)
    return workflow_id


async def table_snapshot(database: Database, table: str) -> list[tuple[Any, ...]]:
    """Every row of `table`, as plain tuples, in id order."""
    return await database.read(lambda dal: [tuple(r) for r in dal.executesql(f"SELECT * FROM {table} ORDER BY id")])


ADMIN_KEY = "admin-secret"


@pytest.fixture
def app_settings() -> dict[str, Any]:
    """Settings of `app` beyond the defaults; a test file overrides this fixture to change them."""
    return {}


@pytest.fixture
async def app(database: Database, clock: ManualClock, app_settings: dict[str, Any]) -> AsyncIterator[Any]:
    """The app on conftest's `database` (emptied before it starts and after it stopped, never under
    its scheduler: see _truncate) and the manual `clock`, with the global key ADMIN_KEY."""
    from workflow_core_module.app import create_app

    settings = make_settings(database.url, **{"admin_api_key": ADMIN_KEY, "log_level": "WARNING", **app_settings})
    application = create_app(settings, clock=clock)
    async with application.test_app():
        yield application
