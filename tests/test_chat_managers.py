"""Community managers and platform: the chat commands, the store, the CLI, the /chat API, migration 0004."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from quart import Quart

from workflow_core_module.app import create_app
from workflow_core_module.chat.commands import (
    AddManagers,
    Help,
    Managers,
    Platform,
    RemoveManagers,
    SetPlatform,
)
from workflow_core_module.chat.errors import ChatParseError
from workflow_core_module.chat.parser import HELP_TOPICS, parse_command
from workflow_core_module.chat.service import ChatContext, ChatService
from workflow_core_module.clock import ManualClock
from workflow_core_module.db.audit import AuditEntry
from workflow_core_module.db.community_store import CommunityStore
from workflow_core_module.db.database import Database
from workflow_core_module.db.migrations import current_version, migrate, migrate_down_one
from workflow_core_module.db.workflow_store import WorkflowStore
from workflow_core_module.engine.engine import WorkflowEngine
from workflow_core_module.errors import Invalid, LimitExceeded
from workflow_core_module.scheduling.community import (
    MAX_MANAGERS,
    PLATFORMS,
    Community,
    check_platform,
    default_date_order,
    user_id_problem,
)
from workflow_core_module.services.community_service import CommunityService
from workflow_core_module.services.schedule_service import ScheduleService
from workflow_core_module.services.scheduler import Scheduler
from workflow_core_module.services.workflow_service import WorkflowService

from .conftest import START, make_settings
from .processes import ROOT

NOW = START  # Sunday 22 Nov 2026 12:00 UTC
ADMIN = {"X-API-Key": "admin-secret"}
NONE_YET = "No schedule managers yet. A manager or the operator adds them: !schedule managers add <user id>"
BOOTSTRAP = ("This community has no schedule managers yet, and chat can't add the first one. "
             "The operator runs: python -m workflow_core_module communities managers c1 --add 42")
REFUSED = ("Sorry, only the community's schedule managers can change schedules here. "
           "Anyone can look: !schedule list")


def parse(text: str) -> Any:
    return parse_command(text, now=NOW, timezone="UTC")


# ---- parser ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("managers", Managers()),
    ("MANAGERS", Managers()),
    ("manager", Managers()),
    ("!schedule managers", Managers()),
    ("managers add 123", AddManagers(("123",))),
    ("managers add 123 456", AddManagers(("123", "456"))),
    ("managers add 123,456 , 789", AddManagers(("123", "456", "789"))),
    ("managers add 123 123 456", AddManagers(("123", "456"))),
    ("managers ADD U024BE7LH", AddManagers(("U024BE7LH",))),
    ("managers add <@80351110224678912> <@!42>", AddManagers(("80351110224678912", "42"))),
    ('managers add "kick-7"', AddManagers(("kick-7",))),
    ("managers add " + "x" * 100, AddManagers(("x" * 100,))),
    ("managers remove 123", RemoveManagers(("123",))),
    ("managers rm 1 2", RemoveManagers(("1", "2"))),
    ("managers delete 9", RemoveManagers(("9",))),
    ("platform", Platform()),
    ("platform twitch", SetPlatform("twitch")),
    ("platform Discord", SetPlatform("discord")),
    ("platform SLACK", SetPlatform("slack")),
    ("platform kick", SetPlatform("kick")),
    ("help managers", Help("managers")),
    ("help platform", Help("platform")),
])
def test_the_manager_and_platform_forms(text: str, expected: Any) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(("text", "message", "word"), [
    ("managers list", r'^After managers I expected add or remove, not "list"\. '
                      r"Try: !schedule managers add 123456789$", "list"),
    ("managers ad 1", r'not "ad" \(did you mean "add"\?\)', "ad"),
    ('managers "add" 1', r'not "add"\.', "add"),
    ("managers add", r"^Whose user id\? Put one or more after managers add\. Try: !schedule managers add 123456789$",
     None),
    ("managers add , ,", r"^Whose user id\? Put one or more after managers add\.", None),
    ("managers remove", r"^Whose user id\? Put one or more after managers remove\. "
                        r"Try: !schedule managers remove 123456789$", None),
    ("managers add @alice", r'^"@alice" is a name; managers are chat user ids \(like 123456789\), not names\. '
                            r"Try: !schedule managers add 123456789$", "@alice"),
    ("managers add " + "x" * 101, r"can't be a user id: a user id has at most 100 characters\.", "x" * 100),
    ('managers add "a b"', r'^"a b" can\'t be a user id: a user id has no spaces or control characters\.', "a b"),
    ('managers add ""', r"can't be a user id: a user id must not be empty\.", ""),
    ("managers add 1\x07", r"can't be a user id: a user id has no spaces or control characters", "1\x07"),
    ("managers remove @bob", r'"@bob" is a name.*Try: !schedule managers remove 123456789$', "@bob"),
    ("platform tiktok", r'^I don\'t know the platform "tiktok"; use twitch, discord, slack or kick\. '
                        r"Try: !schedule platform twitch$", "tiktok"),
    ("platform twich", r'I don\'t know the platform "twich" \(did you mean "twitch"\?\)', "twich"),
    ("platform twitch now", r'^I didn\'t expect "now" here\. Try: !schedule platform twitch$', "now"),
    ("help manglers", r'I don\'t know "manglers" \(did you mean "managers"\?\)', "manglers"),
])
def test_the_manager_and_platform_errors(text: str, message: str, word: str | None) -> None:
    with pytest.raises(ChatParseError) as error:
        parse(text)
    error.match(message)
    assert error.value.word == word
    assert 0 < len(error.value.message) < 300 and error.value.message.isprintable()


def test_too_many_user_ids_in_one_command() -> None:
    with pytest.raises(ChatParseError) as error:
        parse("managers add " + " ".join(str(n) for n in range(MAX_MANAGERS + 1)))
    error.match(r"^That is 501 user ids; a community has at most 500 managers\.")


def test_new_help_topics() -> None:
    assert {"managers", "platform"} <= set(HELP_TOPICS)


# ---- the rules in the store module -------------------------------------------------------------


def test_platforms_and_user_ids() -> None:
    assert PLATFORMS == ("twitch", "discord", "slack", "kick")
    assert check_platform(" Twitch ") == "twitch"
    with pytest.raises(Invalid) as error:
        check_platform("tiktok")
    assert error.value.errors == {"platform": "must be one of twitch, discord, slack, kick"}
    assert user_id_problem("80351110224678912") is None
    assert user_id_problem("x" * 100) is None
    assert user_id_problem("") and user_id_problem("x" * 101) and user_id_problem("a b")
    assert user_id_problem("a\tb") and user_id_problem("a\x00b")
    assert user_id_problem("a\u200bb")  # a zero-width space, a format character nobody sees


# ---- chat service ------------------------------------------------------------------------------


@pytest.fixture
async def chat(sqlite_database: Database, clock: ManualClock) -> AsyncIterator[ChatService]:
    settings = make_settings(sqlite_database.url, chat_rate_limit_per_minute=100, log_level="WARNING")
    engine = WorkflowEngine(sqlite_database, settings, store=WorkflowStore(sqlite_database), clock=clock)
    schedules = ScheduleService(sqlite_database, settings, clock=clock)
    scheduler = Scheduler(sqlite_database, settings, engine=engine, schedules=schedules, clock=clock)
    await schedules.load_cache()
    yield ChatService(schedules, scheduler, WorkflowService(engine, clock), CommunityService(sqlite_database, clock),
                      settings, clock)
    await engine.close()


def ctx(user: str = "42", *, username: str = "", platform: str = "", roles: tuple[str, ...] | None = None,
        community: str = "c1") -> ChatContext:
    return ChatContext(community_id=community, user_id=user, username=username, entity_id="chan-7",
                       platform=platform, roles=roles)


async def set_managers(chat: ChatService, *managers: str, community: str = "c1") -> None:
    await chat.communities.set_managers(community, managers, actor="test")


async def audit(database: Database) -> list[tuple[str, str]]:
    rows = await database.read(lambda dal: dal.executesql(
        "SELECT actor, action FROM audit_log WHERE entity_type = 'community' ORDER BY id"))
    return [(r[0], r[1]) for r in rows]


def test_the_actor_names_a_person() -> None:
    assert ctx("42").actor == "user:42"
    assert ctx("42", platform="twitch").actor == "user:42"
    assert ctx("42", username="alice", platform="twitch").actor == "twitch:alice"
    assert ctx("42", username="alice").actor == "chat:alice"


async def test_anyone_lists_the_managers(chat: ChatService) -> None:
    assert await chat.handle("managers", ctx("9")) == NONE_YET
    await set_managers(chat, "123", "456")
    assert await chat.handle("managers", ctx("9")) == "Schedule managers here: 123, 456"
    assert await chat.handle("managers", ctx("9", roles=("viewer",))) == "Schedule managers here: 123, 456"


async def test_a_long_manager_list_fits_one_reply(chat: ChatService) -> None:
    await set_managers(chat, *(f"{n:018d}" for n in range(60)))
    reply = await chat.handle("managers", ctx("9"))
    assert reply.startswith("Schedule managers here (60): 000000000000000000, ") and reply.endswith(" more")
    assert len(reply) <= chat.settings.chat_reply_max_chars


async def test_a_manager_adds_and_removes_managers(chat: ChatService, sqlite_database: Database) -> None:
    await set_managers(chat, "42")
    assert await chat.handle("managers add 555, 777", ctx("42")) == (
        "Added 555, 777 as schedule managers. Schedule managers here: 42, 555, 777.")
    assert await chat.handle("managers add 555", ctx("42")) == "555 is already a schedule manager here."
    assert await chat.handle("managers add 42 555", ctx("555")) == "42, 555 are already schedule managers here."
    assert await chat.handle("managers add <@888>", ctx("555")) == (
        "Added 888 as a schedule manager. Schedule managers here: 42, 555, 777, 888.")
    assert await chat.handle("managers remove 777 999", ctx("555")) == (
        "Removed 777. (999 is not a schedule manager.) Schedule managers here: 42, 555, 888.")
    assert await chat.handle("managers remove 999", ctx("42")) == (
        "999 is not a schedule manager here. See who is: !schedule managers")
    assert (await chat.communities.get("c1")).managers == ("42", "555", "888")
    assert await audit(sqlite_database) == [("test", "community.managers")] + [("user:42", "community.managers"),
                                                                            ("user:555", "community.managers"),
                                                                            ("user:555", "community.managers")]


async def test_the_last_manager_stays_unless_the_router_sends_roles(chat: ChatService) -> None:
    await set_managers(chat, "42", "43")
    assert await chat.handle("managers remove 42 43", ctx("42")) == (
        "That would leave no schedule managers, and nobody could change schedules here in chat. "
        "Add another one first: !schedule managers add <user id>")
    assert (await chat.handle("managers remove 43", ctx("42"))).startswith("Removed 43.")
    assert (await chat.handle("managers remove 42", ctx("42"))).startswith("That would leave no schedule managers")
    removed = await chat.handle("managers remove 42", ctx("7", username="mod", roles=("moderator",)))
    assert removed == f"Removed 42. {NONE_YET}."
    assert (await chat.communities.get("c1")).managers == ()


async def test_a_non_manager_is_refused_and_nothing_changes(chat: ChatService, sqlite_database: Database) -> None:
    await set_managers(chat, "42")
    assert await chat.handle("managers add 9", ctx("9")) == (
        "Sorry, only the community's schedule managers can change schedules here. Anyone can look: !schedule managers")
    assert await chat.handle("managers add 9", ctx("9", username="bob")) == (
        "Sorry bob, only the community's schedule managers can change schedules here. "
        "Anyone can look: !schedule managers")
    assert await chat.handle("platform twitch", ctx("9")) == REFUSED
    assert await chat.handle("managers remove 42", ctx("9", roles=("viewer",))) == (
        "Sorry, only owner, admin, moderator can change schedules here. Anyone can look: !schedule list")
    assert (await chat.communities.get("c1")) == Community("c1", "UTC", ("42",), None)
    assert await audit(sqlite_database) == [("test", "community.managers")]


async def test_the_first_manager_comes_from_the_operator(chat: ChatService) -> None:
    assert await chat.handle("managers add 42", ctx("42")) == BOOTSTRAP
    assert await chat.handle("managers add 42", ctx("42", username="alice", platform="twitch")) == BOOTSTRAP
    assert (await chat.handle("managers remove 42", ctx("42"))).startswith("This community has no schedule managers")
    assert await chat.handle("managers add 42", ctx("")) == BOOTSTRAP.replace("--add 42", "--add <user id>")
    odd = await chat.handle("managers add 42", ctx("a'b", community="my community"))
    assert odd.endswith("communities managers 'my community' --add 'a'\"'\"'b'")  # pasted into a shell as is
    assert (await chat.communities.get("c1")).managers == ()
    # With roles from the router, a moderator may name the first manager.
    added = await chat.handle("managers add 42", ctx("7", username="mod", roles=("moderator",)))
    assert added == "Added 42 as a schedule manager. Schedule managers here: 42."


async def test_platform_is_shown_to_anyone_and_set_by_a_manager(chat: ChatService, sqlite_database: Database) -> None:
    assert await chat.handle("platform", ctx("9")) == (
        "No platform is set for this community. A manager sets it: !schedule platform twitch")
    await set_managers(chat, "42")
    assert await chat.handle("platform Twitch", ctx("42")) == (
        "This community is now on twitch; scheduled messages are posted there.")
    assert await chat.handle("platform", ctx("9")) == (
        "This community is on twitch. Change it with: !schedule platform <twitch|discord|slack|kick>")
    assert await chat.handle("platform myspace", ctx("42")) == (
        "I don't know the platform \"myspace\"; use twitch, discord, slack or kick. Try: !schedule platform twitch")
    assert (await chat.communities.get("c1")).platform == "twitch"
    assert (await audit(sqlite_database))[-1] == ("user:42", "community.platform")


async def test_a_schedule_by_a_user_without_username_is_created_by_the_user_id(chat: ChatService) -> None:
    await set_managers(chat, "42")
    await chat.handle("platform discord", ctx("42"))
    reply = await chat.handle("add every day at 18:00 say Stream soon", ctx("42"))
    assert reply == 'Scheduled "stream-soon": every day at 18:00, next Sun 22 Nov 18:00.'
    [schedule] = (await chat.schedules.list_schedules(scope="c1")).items
    assert schedule.created_by == "user:42"
    assert schedule.context_data["platform"] == "discord"  # the community's, as the router sent none
    rows = await chat.schedules.database.read(lambda dal: dal.executesql(
        "SELECT actor FROM audit_log WHERE entity_type = 'schedule'"))
    assert [r[0] for r in rows] == ["user:42"]


@pytest.mark.parametrize("text", [
    "add every day at 18:00 say hi", "pause #1", "resume #1", "remove #1", "run #1", "rename #1 x",
    "timezone Europe/Berlin", "managers add 9", "managers remove 42", "platform kick",
])
@pytest.mark.parametrize("roles", [None, ("viewer",)])
async def test_no_refusal_says_there(chat: ChatService, text: str, roles: tuple[str, ...] | None) -> None:
    await set_managers(chat, "42")
    reply = await chat.handle(text, ctx("9", roles=roles))
    assert reply.startswith("Sorry, only "), reply
    assert "there" not in reply


async def test_help_names_the_new_commands(chat: ChatService) -> None:
    overview = await chat.handle("help", ctx("9"))
    assert "| managers [add/remove <user id>] | platform [<name>]." in overview
    assert len(overview) <= chat.settings.chat_reply_max_chars and not overview.endswith("…")
    assert (await chat.handle("help managers", ctx("9"))).startswith(
        "managers: !schedule managers shows who may change schedules here")
    assert "!schedule managers add 123456789" in await chat.handle("help managers", ctx("9"))
    assert (await chat.handle("help platform", ctx("9"))) == (
        "platform: !schedule platform twitch sets the chat platform scheduled messages are posted to "
        "(twitch, discord, slack, kick); !schedule platform shows it.")


# ---- the store, on SQLite and PostgreSQL --------------------------------------------------------


async def test_store_platform_and_managers(database: Database) -> None:
    store = CommunityStore(database)
    assert await store.get("c1") == Community("c1")
    entry = AuditEntry("alice", "community.platform", NOW)
    saved = await store.update("c1", entry, platform="Kick")
    assert saved == Community("c1", "UTC", (), "kick")
    with pytest.raises(Invalid):
        await store.update("c1", entry, platform="myspace")
    with pytest.raises(Invalid):
        await store.update("x" * 101, entry, platform="kick")
    zone = await store.update("c1", entry, timezone="Europe/Berlin")
    assert zone == Community("c1", "Europe/Berlin", (), "kick")  # other settings kept
    managers = AuditEntry("alice", "community.managers", NOW)
    assert (await store.change_managers("c1", managers, add=["1", "2", "3"])).managers == ("1", "2", "3")
    assert (await store.change_managers("c1", managers, add=["4", "2"], remove=["1"])).managers == ("2", "3", "4")
    assert (await store.update("c1", managers, managers=["9"])) == Community("c1", "Europe/Berlin", ("9",), "kick")
    with pytest.raises(Invalid):
        await store.change_managers("c1", managers, add=["a b"])
    with pytest.raises(LimitExceeded):
        await store.change_managers("c1", managers, add=[str(n) for n in range(1000, 1000 + MAX_MANAGERS)])
    assert (await store.get("c1")).managers == ("9",)  # a refused change leaves nothing behind
    rows = await database.read(lambda dal: dal.executesql(
        "SELECT actor, action FROM audit_log WHERE entity_id = 'c1' ORDER BY id"))
    assert [tuple(r) for r in rows] == [("alice", "community.platform")] * 2 + [("alice", "community.managers")] * 3


async def test_concurrent_manager_changes_from_two_replicas_all_count(database: Database) -> None:
    """Two connections (two replicas) add managers to one community at once: none is lost."""
    other = await Database.connect(database.url)
    try:
        stores = [CommunityStore(database), CommunityStore(other)]
        entry = AuditEntry("test", "community.managers", NOW)
        await stores[0].update("race", entry, platform="twitch")  # the row exists: only a row lock orders them
        await asyncio.gather(*(stores[n % 2].change_managers("race", entry, add=[f"u{n}"]) for n in range(60)))
        assert sorted((await stores[0].get("race")).managers) == sorted(f"u{n}" for n in range(60))
    finally:
        await other.close()


# ---- migration 0004, on SQLite and PostgreSQL ----------------------------------------------------


async def _community_columns(database: Database) -> set[str]:
    if database.is_sqlite:
        rows = await database.read(lambda dal: dal.executesql("PRAGMA table_info(communities)"))
        return {row[1] for row in rows}
    rows = await database.read(lambda dal: dal.executesql(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'communities' "
        "AND table_schema = current_schema()"))
    return {row[0] for row in rows}


async def _community_value(database: Database, column: str) -> Any:
    rows = await database.read(lambda dal: dal.executesql(
        f"SELECT {column} FROM communities WHERE community_id = 'c1'"))
    return rows[0][0]


# Each step is checked with SQL of its own time: the store reads the newest columns, which an
# older schema does not have yet.
async def test_migration_0004_up_down_up_keeps_the_rows(database_url: str) -> None:
    database = await Database.connect(database_url)
    try:
        await migrate(database, 0)
        await migrate(database, 3)
        assert "platform" not in await _community_columns(database)
        mark = database.dialect.params
        await database.write(lambda dal: dal.executesql(mark(
            "INSERT INTO communities (community_id, timezone, managers, updated_by, updated_at) "
            "VALUES (?, 'Europe/Berlin', ?, 'test', ?)"), placeholders=("c1", '["42"]', database.dialect.ts(NOW))))
        assert await migrate(database, 4) == ["up 0004_community_platform"]
        assert "platform" in await _community_columns(database)
        assert await _community_value(database, "platform") is None
        await database.write(lambda dal: dal.executesql("UPDATE communities SET platform = 'slack'"))
        assert await migrate_down_one(database) == ["down 0004_community_platform"]
        assert await current_version(database) == 3
        assert "platform" not in await _community_columns(database)
        rows = await database.read(lambda dal: dal.executesql("SELECT community_id, managers FROM communities"))
        assert [r[0] for r in rows] == ["c1"]
        assert await migrate(database, 4) == ["up 0004_community_platform"]
        assert await _community_value(database, "platform") is None
        await migrate(database)
        assert await CommunityStore(database).get("c1") == Community("c1", "Europe/Berlin", ("42",), None)
    finally:
        await migrate(database, 0)
        await migrate(database)
        await database.close()


async def test_migration_0012_date_order_up_down_up_keeps_the_rows(database_url: str) -> None:
    database = await Database.connect(database_url)
    try:
        await migrate(database, 0)
        await migrate(database, 11)
        assert "date_order" not in await _community_columns(database)
        mark = database.dialect.params
        await database.write(lambda dal: dal.executesql(mark(
            "INSERT INTO communities (community_id, timezone, managers, platform, updated_by, updated_at) "
            "VALUES (?, 'America/New_York', ?, 'kick', 'test', ?)"),
            placeholders=("c1", '["42"]', database.dialect.ts(NOW))))
        assert await migrate(database, 12) == ["up 0012_community_date_order"]
        assert await _community_value(database, "date_order") is None  # the zone's default, for every community
        await database.write(lambda dal: dal.executesql("UPDATE communities SET date_order = 'dmy'"))
        assert await migrate_down_one(database) == ["down 0012_community_date_order"]
        assert await current_version(database) == 11
        assert "date_order" not in await _community_columns(database)
        assert await _community_value(database, "platform") == "kick"
        assert await migrate(database, 12) == ["up 0012_community_date_order"]
        await migrate(database)
        store = CommunityStore(database)
        assert await store.get("c1") == Community("c1", "America/New_York", ("42",), "kick", None)
        assert (await store.get("c1")).reads_dates == "mdy"
        saved = await store.set_date_order("c1", AuditEntry("test", "community.date_order", NOW), "DMY")
        assert saved == Community("c1", "America/New_York", ("42",), "kick", "dmy") and saved.reads_dates == "dmy"
        cleared = await store.set_date_order("c1", AuditEntry("test", "community.date_order", NOW), None)
        assert cleared.date_order is None and cleared.reads_dates == "mdy"
        with pytest.raises(Invalid):
            await store.set_date_order("c1", AuditEntry("test", "community.date_order", NOW), "ymd")
    finally:
        await migrate(database, 0)
        await migrate(database)
        await database.close()


@pytest.mark.parametrize(("zone", "order"), [
    ("America/New_York", "mdy"), ("America/Los_Angeles", "mdy"), ("America/Indiana/Knox", "mdy"), ("US/Eastern", "mdy"),
    ("Pacific/Honolulu", "mdy"), ("Asia/Manila", "mdy"), ("Asia/Tokyo", "mdy"), ("Asia/Shanghai", "mdy"),
    ("America/Mexico_City", "dmy"), ("America/Sao_Paulo", "dmy"), ("America/Argentina/Buenos_Aires", "dmy"),
    ("Europe/Berlin", "dmy"), ("Europe/London", "dmy"), ("Australia/Sydney", "dmy"), ("Asia/Kolkata", "dmy"),
    ("America/Toronto", None), ("America/Vancouver", None), ("America/Puerto_Rico", None), ("UTC", None),
    ("Etc/GMT+5", None),
])
def test_a_zone_gives_the_usual_date_order_or_none(zone: str, order: str | None) -> None:
    assert default_date_order(zone) == order
    assert Community("c1", zone).reads_dates == order
    assert Community("c1", zone, date_order="dmy").reads_dates == "dmy"


def test_every_zone_named_for_a_date_order_exists() -> None:
    from zoneinfo import available_timezones

    from workflow_core_module.scheduling import community
    assert (community._MONTH_FIRST | community._ASK) <= available_timezones()


# ---- the CLI, as a subprocess on a SQLite file --------------------------------------------------


def run_cli(db_url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": db_url, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING"}
    return subprocess.run([sys.executable, "-m", "workflow_core_module", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def ok(db_url: str, cwd: Path, *args: str) -> str:
    result = run_cli(db_url, cwd, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


async def test_cli_managers_and_platform(sqlite_url: str, tmp_path: Path) -> None:
    assert ok(sqlite_url, tmp_path, "communities", "managers", "42") == "community 42 managers: (none)\n"
    assert ok(sqlite_url, tmp_path, "communities", "managers", "42", "--add", "123", "456", "--add", "789") == (
        "community 42 managers: 123, 456, 789\n")
    assert ok(sqlite_url, tmp_path, "communities", "managers", "42", "--remove", "123", "--add", "999") == (
        "community 42 managers: 456, 789, 999\n")
    assert ok(sqlite_url, tmp_path, "communities", "platform", "42", "Twitch") == "community 42 platform: twitch\n"
    bad = run_cli(sqlite_url, tmp_path, "communities", "platform", "42", "myspace")
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr == "error: unknown platform 'myspace'; use one of: twitch, discord, slack, kick\n"
    bad_id = run_cli(sqlite_url, tmp_path, "communities", "managers", "42", "--add", "a b")
    assert bad_id.returncode == 2 and bad_id.stderr == "error: 'a b': a user id has no spaces or control characters\n"
    database = await Database.connect(sqlite_url)
    try:
        assert await CommunityStore(database).get("42") == Community("42", "UTC", ("456", "789", "999"), "twitch")
        assert await audit(database) == [("cli", "community.managers")] * 2 + [("cli", "community.platform")]
    finally:
        await database.close()


# ---- the /chat API ---------------------------------------------------------------------------------


@pytest.fixture
async def app(sqlite_url: str) -> AsyncIterator[Quart]:
    application = create_app(make_settings(sqlite_url, admin_api_key="admin-secret", log_level="WARNING"))
    async with application.test_app():
        yield application


async def call(client: Any, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
               ) -> tuple[int, Any]:
    kwargs: dict[str, Any] = {"headers": ADMIN if headers is None else headers}
    if body is not None:
        kwargs["json"] = body
    response = await getattr(client, method)(path, **kwargs)
    return response.status_code, await response.get_json()


async def test_chat_settings_api(app: Quart) -> None:
    client = app.test_client()
    assert await call(client, "get", "/api/v1/communities/red/chat") == (
        200, {"community_id": "red", "timezone": "UTC", "platform": None, "managers": []})
    assert await call(client, "put", "/api/v1/communities/red/chat", {"platform": "twitch"}) == (
        200, {"community_id": "red", "timezone": "UTC", "platform": "twitch", "managers": []})
    status, err = await call(client, "put", "/api/v1/communities/red/chat", {"platform": "myspace"})
    assert status == 400 and err["error"]["details"] == {"platform": "must be one of twitch, discord, slack, kick"}
    status, err = await call(client, "put", "/api/v1/communities/red/chat", {"platform": "kick", "color": "red"})
    assert status == 400 and err["error"]["details"] == {"color": "unknown field"}
    assert (await call(client, "put", "/api/v1/communities/red/chat", {}))[0] == 400
    assert (await call(client, "put", "/api/v1/communities/red/chat", {"platform": None}))[0] == 400
    # the managers endpoints answer with the platform too
    assert await call(client, "put", "/api/v1/communities/red/managers", {"managers": ["u1"]}) == (
        200, {"community_id": "red", "timezone": "UTC", "platform": "twitch", "managers": ["u1"]})
    assert (await call(client, "get", "/api/v1/communities/red/managers"))[1]["platform"] == "twitch"

    runtime = app.extensions["runtime"]
    _, red_key = await runtime.keys.create("red-key", "red", runtime.clock.now())
    _, blue_key = await runtime.keys.create("blue-key", "blue", runtime.clock.now())
    red, blue = {"X-API-Key": red_key}, {"X-API-Key": blue_key}
    assert (await call(client, "put", "/api/v1/communities/red/chat", {"platform": "discord"}, red))[1][
        "platform"] == "discord"
    assert (await call(client, "get", "/api/v1/communities/red/chat", headers=red))[0] == 200
    assert (await call(client, "get", "/api/v1/communities/red/chat", headers=blue))[0] == 403
    assert (await call(client, "put", "/api/v1/communities/red/chat", {"platform": "kick"}, blue))[0] == 403
    assert (await call(client, "get", "/api/v1/communities/red/chat", headers={}))[0] == 401
    assert (await runtime.communities.get("red")).platform == "discord"
    rows = await runtime.database.read(lambda dal: dal.executesql(
        "SELECT actor, action FROM audit_log WHERE entity_type = 'community' ORDER BY id"))
    assert [tuple(r) for r in rows] == [("admin", "community.platform"), ("admin", "community.managers"),
                                        ("red-key", "community.platform")]
    spec = await (await client.get("/openapi.json")).get_json()
    assert {"get", "put"} <= set(spec["paths"]["/api/v1/communities/{community_id}/chat"])
