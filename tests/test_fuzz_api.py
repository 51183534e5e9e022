"""Schemathesis against /openapi.json, in-process: at least 500 generated requests, no 5xx.

The app runs its real lifecycle (migrations, scheduler loop) on a throw-away SQLite file, on
schemathesis's own event loop. Requests carry a valid admin key, so the generated bodies reach
the handlers rather than stopping at 401.
"""

from __future__ import annotations

import asyncio
import collections
import math
import tempfile
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from workflow_core_module.app import create_app
from workflow_core_module.config import Settings

KEY = "fuzz-admin-key"
TOTAL_CASES = 500

_folder = tempfile.mkdtemp(prefix="wcm-fuzz-")
app = create_app(Settings(database_url=f"sqlite://{_folder}/fuzz.sqlite", admin_api_key=KEY,
                          log_level="CRITICAL", shutdown_grace_seconds=1))


async def _spec() -> dict[str, Any]:
    response = await app.test_client().get("/openapi.json")  # no lifespan needed for the spec
    assert response.status_code == 200
    data: dict[str, Any] = await response.get_json()
    return data


schema = schemathesis.openapi.from_dict(
    asyncio.run(_spec()), config=schemathesis.Config.from_dict({"headers": {"X-API-Key": KEY}})
)
schema.app = app
OPERATIONS = len(list(schema.get_all_operations()))
CASES: collections.Counter[str] = collections.Counter()
STATUSES: collections.Counter[int] = collections.Counter()


@schema.parametrize()
@settings(max_examples=max(20, math.ceil(TOTAL_CASES / OPERATIONS)), deadline=None,
          suppress_health_check=list(HealthCheck), derandomize=True, database=None)
def test_no_request_gets_a_server_error(case: Any) -> None:
    response = case.call_and_validate(checks=[not_a_server_error])
    CASES[case.operation.label] += 1
    STATUSES[response.status_code] += 1


def test_zz_enough_cases_were_generated() -> None:
    """Runs after the fuzz test in this module (pytest keeps file order)."""
    total = sum(CASES.values())
    if total == 0:  # the module was filtered (-k): nothing to count
        return
    print(f"\nschemathesis: {total} cases over {len(CASES)} operations; statuses {dict(sorted(STATUSES.items()))}")
    assert total >= TOTAL_CASES, f"only {total} cases"
    assert len(CASES) == OPERATIONS
    assert not any(status >= 500 for status in STATUSES)
