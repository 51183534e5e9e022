"""A workflow that schedules use cannot be disabled from under them; a run whose workflow is gone
or disabled anyway (changed behind the API's back, or deleted on another replica) fails at once,
with the reason, and is not retried."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from quart import Quart

from workflow_core_module.app import create_app
from workflow_core_module.clock import ManualClock
from workflow_core_module.db.database import Database

from .conftest import make_settings
from .harness import Scheduler

ADMIN = {"X-API-Key": "admin-secret"}


@pytest.fixture
async def app(sqlite_url: str) -> AsyncIterator[Quart]:
    application = create_app(make_settings(sqlite_url, admin_api_key="admin-secret", log_level="WARNING"))
    async with application.test_app():
        yield application


async def _json(response: Any) -> Any:
    return await response.get_json()


async def test_disabling_a_workflow_in_use_is_a_conflict_like_deleting_it(app: Quart) -> None:
    client = app.test_client()
    steps = [{"action": "log", "message": "hi"}]
    created = await _json(await client.post("/api/v1/workflows", json={"name": "wf", "steps": steps}, headers=ADMIN))
    wf = created["workflow_id"]
    schedule = await _json(await client.post("/api/v1/schedules", headers=ADMIN, json={
        "workflow_id": wf, "name": "hourly", "schedule_type": "interval", "interval_seconds": 3600}))
    disable = {"name": "wf", "steps": steps, "is_active": False}
    response = await client.put(f"/api/v1/workflows/{wf}", json=disable, headers=ADMIN)
    assert response.status_code == 409
    error = (await _json(response))["error"]
    assert "disable" in error["message"] and error["details"] == {"schedules": 1}
    assert (await _json(await client.get(f"/api/v1/workflows/{wf}", headers=ADMIN)))["is_active"] is True
    # renaming it while in use is fine; disabling it once nothing uses it is fine
    ok = await client.put(f"/api/v1/workflows/{wf}", json={"name": "wf2", "steps": steps}, headers=ADMIN)
    assert ok.status_code == 200
    assert (await client.delete(f"/api/v1/schedules/{schedule['schedule_id']}", headers=ADMIN)).status_code == 204
    done = await client.put(f"/api/v1/workflows/{wf}", json=disable | {"name": "wf2"}, headers=ADMIN)
    assert done.status_code == 200 and (await _json(done))["is_active"] is False


@pytest.mark.parametrize("how", ["disabled", "deleted"])
async def test_a_run_of_a_disabled_or_deleted_workflow_fails_once_without_retries(
        database: Database, clock: ManualClock, how: str) -> None:
    sched = Scheduler(database, make_settings(database.url, workflow_max_retries=3), clock)
    sched.attach_loop()
    try:
        wf = await sched.workflow()
        s = await sched.service.add_schedule({"workflow_id": wf, "name": "gone", "schedule_type": "interval",
                                              "interval_seconds": 60})
        sql = ("UPDATE workflows SET is_active = ? WHERE workflow_id = ?" if how == "disabled"
               else "DELETE FROM workflows WHERE workflow_id = ?")
        params = [database.dialect.false, wf] if how == "disabled" else [wf]
        await database.write(lambda dal: dal.executesql(database.dialect.params(sql), placeholders=params))
        sched.engine.forget(wf)
        result = await sched.tick(60)  # settles only if no retry is waiting on its backoff
        assert result.fired == 1
        [run] = await sched.runs(s.schedule_id)
        assert (run.status, run.attempt) == ("failed", 1), run
        assert (run.error or "").endswith("is disabled" if how == "disabled" else "does not exist")
        assert sched.recorder.calls == []
    finally:
        await sched.close()
