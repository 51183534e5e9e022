"""A community's schedule numbers (chat's `#n`): the n-th schedule made there, removed ones counted,
on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from workflow_core_module.db.database import Database
from workflow_core_module.services.schedule_service import ScheduleService

from .conftest import add_workflow


def cron(workflow_id: str, name: str) -> dict[str, Any]:
    return {"workflow_id": workflow_id, "name": name, "schedule_type": "cron", "cron_expression": "0 2 * * *"}


async def test_numbers_stay_with_their_schedule(service: ScheduleService, database: Database) -> None:
    wf = await add_workflow(database)
    made = {}
    for name, community in [("a", "c1"), ("x", "c2"), ("b", "c1"), ("c", "c1"), ("y", "c2"), ("d", "c1")]:
        made[name] = (await service.add_schedule(cron(wf, name), scope=community)).schedule_id
    assert await service.creation_numbers("c1") == {made["a"]: 1, made["b"]: 2, made["c"]: 3, made["d"]: 4}
    assert await service.creation_numbers("c2") == {made["x"]: 1, made["y"]: 2}
    await service.remove_schedule(made["b"], scope="c1")
    again = (await service.add_schedule(cron(wf, "b"), scope="c1")).schedule_id  # the name is free again
    # b's number is not reused and nothing after it moves; the new "b" is the fifth made here
    assert await service.creation_numbers("c1") == {made["a"]: 1, made["c"]: 3, made["d"]: 4, again: 5}
    assert await service.creation_numbers("c3") == {}
