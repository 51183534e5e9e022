"""A community's date order (how 01/02 is read) over REST: read and set like its other settings, and
used by `"when"` in POST /schedules and /preview, so a date reads the same as in that community's chat."""

from __future__ import annotations

from typing import Any

from quart import Quart

from .conftest import ADMIN_KEY
from .harness import api_call

ASKS = 'Is "01/02" 1 Feb or Jan 2?'


async def key_for(app: Quart, community: str) -> dict[str, str]:
    runtime = app.extensions["runtime"]
    _, key = await runtime.keys.create(f"{community}-key", community, runtime.clock.now())
    return {"X-API-Key": key}


async def order(app: Quart, community: str, body: Any = None, headers: dict[str, str] | None = None
                ) -> tuple[int, Any]:
    method = "get" if body is None else "put"
    return await api_call(app, method, f"/api/v1/communities/{community}/date-order", body, headers)


async def test_read_and_set_like_the_other_settings(app: Quart) -> None:
    assert await order(app, "red") == (200, {"community_id": "red", "timezone": "UTC", "date_order": None,
                                             "reads_dates": None})
    assert await order(app, "red", {"date_order": "mdy"}) == (
        200, {"community_id": "red", "timezone": "UTC", "date_order": "mdy", "reads_dates": "mdy"})
    assert (await order(app, "red", {"date_order": " DMY "}))[1]["date_order"] == "dmy"
    for bad, field in (({"date_order": "ymd"}, "date_order"), ({"date_order": 1}, "date_order"), ({}, "date_order"),
                       ({"date_order": "dmy", "zone": "x"}, "zone"), ({"date_order": "auto"}, "date_order")):
        status, err = await order(app, "red", bad)
        assert status == 400 and field in err["error"]["details"], (bad, err)
    runtime = app.extensions["runtime"]
    assert (await runtime.communities.get("red")).date_order == "dmy"  # the refusals changed nothing
    await runtime.communities.set_timezone("red", "America/New_York", actor="test")
    assert (await order(app, "red", {"date_order": None}))[1] == {
        "community_id": "red", "timezone": "America/New_York", "date_order": None, "reads_dates": "mdy"}
    rows = await runtime.database.read(lambda dal: dal.executesql(
        "SELECT actor FROM audit_log WHERE action = 'community.date_order' ORDER BY id"))
    assert [r[0] for r in rows] == ["admin", "admin", "admin"]


async def test_a_community_key_reads_and_sets_its_own_only(app: Quart) -> None:
    red, blue = await key_for(app, "red"), await key_for(app, "blue")
    assert (await order(app, "red", {"date_order": "dmy"}, red))[0] == 200
    assert (await order(app, "red", headers=red))[1]["date_order"] == "dmy"
    assert (await order(app, "red", headers=blue))[0] == 403
    assert (await order(app, "red", {"date_order": "mdy"}, blue))[0] == 403
    assert (await order(app, "red", headers={"Accept": "application/json"}))[0] == 401  # no key
    assert (await app.extensions["runtime"].communities.get("red")).date_order == "dmy"
    spec = (await api_call(app, "get", "/openapi.json"))[1]
    assert {"get", "put"} <= set(spec["paths"]["/api/v1/communities/{community_id}/date-order"])


async def workflow(app: Quart, headers: dict[str, str] | None = None) -> str:
    _, wf = await api_call(app, "post", "/api/v1/workflows", {"name": "wf", "steps": [{"action": "log", "message": "x"}]},
                           headers)
    return str(wf["workflow_id"])


async def test_when_reads_01_02_in_the_communitys_order(app: Quart) -> None:
    wf = await workflow(app)
    body = {"workflow_id": wf, "name": "n", "community_id": "red", "when": "on 01/02 at 9"}
    status, err = await api_call(app, "post", "/api/v1/schedules", body)
    assert status == 400 and err["error"]["details"]["when"].startswith(ASKS)  # the chat reader's question
    assert "dateorder" in err["error"]["details"]["when"]
    status, err = await api_call(app, "post", "/api/v1/schedules/preview", {"when": "on 01/02 at 9",
                                                                           "community_id": "red"})
    assert status == 400 and err["error"]["details"]["when"].startswith(ASKS)
    # 24/12 reads one way whatever the order
    status, made = await api_call(app, "post", "/api/v1/schedules", body | {"name": "xmas", "when": "on 24/12 at 18:00"})
    assert status == 201 and made["scheduled_time"] == "2026-12-24T18:00:00Z"

    await order(app, "red", {"date_order": "mdy"})
    status, made = await api_call(app, "post", "/api/v1/schedules", body | {"name": "jan"})
    assert status == 201 and made["scheduled_time"] == "2027-01-02T09:00:00Z"
    status, seen = await api_call(app, "post", "/api/v1/schedules/preview", {"when": "on 01/02 at 9",
                                                                            "community_id": "red", "count": 1})
    assert status == 200 and seen["times"] == ["2027-01-02T09:00:00Z"]
    # another community (and no community at all) reads in its own way: UTC has no usual order
    assert (await api_call(app, "post", "/api/v1/schedules/preview", {"when": "on 01/02 at 9",
                                                                     "community_id": "blue"}))[0] == 400
    assert (await api_call(app, "post", "/api/v1/schedules/preview", {"when": "on 01/02 at 9"}))[0] == 400
    # nothing set, but the community's zone has a usual order: as its chat reads it
    await app.extensions["runtime"].communities.set_timezone("blue", "Europe/Berlin", actor="test")
    status, seen = await api_call(app, "post", "/api/v1/schedules/preview", {"when": "on 01/02 at 9",
                                                                            "community_id": "blue", "count": 1})
    assert status == 200 and seen["times"] == ["2027-02-01T09:00:00Z"]


async def test_a_community_key_reads_in_its_own_communitys_order(app: Quart) -> None:
    red = await key_for(app, "red")
    await order(app, "red", {"date_order": "dmy"})
    wf = await workflow(app, red)
    status, made = await api_call(app, "post", "/api/v1/schedules", {"workflow_id": wf, "name": "feb",
                                                                    "when": "on 01/02 at 9"}, red)
    assert status == 201 and made["community_id"] == "red" and made["scheduled_time"] == "2027-02-01T09:00:00Z"
    # naming another community: refused as before, without reading that community's setting
    for path in ("/api/v1/schedules", "/api/v1/schedules/preview"):
        status, err = await api_call(app, "post", path, {"workflow_id": wf, "name": "x", "community_id": "blue",
                                                         "when": "on 01/02 at 9"}, red)
        assert status == 403 and err["error"]["details"] == {"community_id": "outside your community"}


async def test_rest_and_chat_read_a_date_the_same(app: Quart) -> None:
    """The phrase through the router's chat command and through REST, in one community: one instant."""
    await order(app, "red", {"date_order": "mdy"})
    client = app.test_client()
    envelope = {"command": "!schedule", "args": "add on 01/02 at 9 as by-chat say hi", "user_id": "u1",
                "username": "u1", "entity_id": "ch", "community_id": "red", "session_id": "sess_1",
                "platform": "twitch", "message": "!schedule add", "user_roles": ["moderator"]}
    response = await client.post("/api/v1/execute", json=envelope, headers={"X-Service-Key": ADMIN_KEY})
    assert response.status_code == 200
    assert (await response.get_json())["data"]["response_data"]["message"].startswith('Scheduled "by-chat" for Sat 02 Jan')
    wf = await workflow(app)
    _, made = await api_call(app, "post", "/api/v1/schedules", {"workflow_id": wf, "name": "by-rest",
                                                               "community_id": "red", "when": "on 01/02 at 9"})
    _, page = await api_call(app, "get", "/api/v1/schedules?community_id=red&q=by-chat")
    assert made["scheduled_time"] == page["items"][0]["scheduled_time"] == "2027-01-02T09:00:00Z"
