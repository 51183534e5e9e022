"""A scheduler process for the crash drill: the `record` action appends one line per call to a file.

usage: python -m tests.crash_worker DATABASE_URL CALLS_FILE REPLICA_TIMEOUT_SECONDS
Appends with O_APPEND and one write() per line, so a SIGKILL never leaves half a line.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

from workflow_core_module.db.database import Database
from workflow_core_module.db.migrations import migrate
from workflow_core_module.db.workflow_store import WorkflowStore
from workflow_core_module.engine.engine import WorkflowEngine
from workflow_core_module.services.schedule_service import ScheduleService
from workflow_core_module.services.scheduler import Scheduler

from .conftest import make_settings


async def main(url: str, calls_file: str, replica_timeout: float) -> None:
    database = await Database.connect(url)
    await migrate(database)
    settings = make_settings(url, max_concurrent_workflows=40, poll_interval_seconds=1.0, workflow_max_retries=0)
    engine = WorkflowEngine(database, settings, store=WorkflowStore(database))
    fd = os.open(calls_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    async def record(params: dict[str, Any], context: Any) -> None:
        trigger = context.trigger
        os.write(fd, f"{trigger['schedule_id']} {trigger['scheduled_for']} {os.getpid()}\n".encode())
        await asyncio.sleep(0.01)

    engine.register_action("record", record)
    service = ScheduleService(database, settings)
    scheduler = Scheduler(database, settings, engine=engine, schedules=service)
    await scheduler.start(replica_timeout_seconds=replica_timeout)
    print("ready", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await scheduler.stop()
    await engine.close()
    await database.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
