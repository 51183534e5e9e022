"""The alert outbox: one row per alert and channel in ``schedule_alerts``.

An alert is decided and written in the transaction that records what it is about (a run's end in
the journal, a missed occurrence or an expiry in the claim, a schedule pausing itself), so no
alert is lost and none is written twice. Delivery (services/alerts.py) claims rows from here:
one replica at a time takes what is due (a PostgreSQL advisory lock serialises the claim), so
each alert is delivered by exactly one replica; a replica that dies mid-delivery leaves rows
whose lease runs out, and another takes them.

A channel gets at most one message per digest window: while a target (a webhook URL, a chat
channel) had a message sent less than that long ago, its alerts wait, and go together.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydal import DAL

from ..scheduling.alerts import AlertSettings, AlertState, after_end, after_fired, after_missed, after_paused
from ..scheduling.schedule import Schedule
from ..scheduling.types import as_utc, iso_z
from .database import Database, Dialect, cursor

MAX_ATTEMPTS = 5
LEASE_SECONDS = 300  # a claimed alert not recorded by then is taken by another replica
_LOCK = 7_312_001  # pg_advisory_xact_lock key of the delivery claim
# Alerts to deliver at a time (markers: now, now): pending and due, or sending with a lapsed lease.
_DUE = "(status = 'pending' AND next_attempt_at <= ?) OR (status = 'sending' AND lease_until < ?)"
OUTBOX_COLUMNS = ("alert_id", "schedule_id", "community_id", "event", "channel", "target", "payload", "status",
                  "attempts", "created_at", "next_attempt_at")
SUBJECT_COLUMNS = ("id", "schedule_id", "name", "community_id", "workflow_id", "timezone", "context_data", "alerts",
                   "alert_state", "consecutive_failures")


@dataclass(frozen=True, slots=True)
class Subject:
    """What an alert needs of its schedule."""

    pk: int
    schedule_id: str
    name: str
    community_id: str | None
    workflow_id: str
    timezone: str
    context_data: Mapping[str, Any]
    alerts: Mapping[str, Any] | None
    state: AlertState
    failures: int = 0  # consecutive failures before what is being recorded

    @classmethod
    def of(cls, s: Schedule) -> Subject:
        return cls(s.id, s.schedule_id, s.name, s.community_id, s.workflow_id, s.timezone, s.context_data, s.alerts,
                   AlertState.of(s.alert_state), s.consecutive_failures)

    def summary(self, **extra: Any) -> dict[str, Any]:
        return {"schedule_id": self.schedule_id, "name": self.name, "community_id": self.community_id,
                "workflow_id": self.workflow_id, "timezone": self.timezone, **extra}


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, (str, bytes)) else value


def subject_of(values: Mapping[str, Any]) -> Subject:
    return Subject(int(values["id"]), str(values["schedule_id"]).rstrip(), values["name"], values["community_id"],
                   str(values["workflow_id"]).rstrip(), values["timezone"] or "UTC",
                   _json(values["context_data"]) or {}, _json(values["alerts"]),
                   AlertState.of(_json(values["alert_state"])), int(values.get("consecutive_failures") or 0))


@dataclass
class AlertBatch:
    """Alerts decided in one transaction: outbox rows and the schedules' new alert states."""

    rows: list[tuple[Any, ...]] = field(default_factory=list)
    states: dict[int, AlertState] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)


class AlertBook:
    """Decides alerts with the pure rules (scheduling/alerts.py) and writes them, inside the
    caller's transaction. `operator` (ALERT_WEBHOOK_URL is set): every schedule alerts, those
    without a setting of their own by the default rules, and every alert also goes there."""

    def __init__(self, dialect: Dialect, operator: bool = False) -> None:
        self.dialect = dialect
        self.operator = operator

    def settings(self, alerts: Mapping[str, Any] | None) -> AlertSettings | None:
        own = AlertSettings.of(alerts)
        return own if own is not None or not self.operator else AlertSettings.default()

    def wants(self, alerts: Mapping[str, Any] | None) -> bool:
        """Whether a schedule with this setting alerts at all."""
        return self.settings(alerts) is not None

    # ---- deciding ------------------------------------------------------------------------

    def ended(self, batch: AlertBatch, subject: Subject, ends: Iterable[tuple[str, datetime, dict[str, Any]]]) -> None:
        """Runs of one schedule ended, oldest first: (status, finished_at, run summary)."""
        settings = self.settings(subject.alerts)
        if settings is None:
            return
        state, streak = batch.states.get(subject.pk, subject.state), subject.failures
        for status, at, run in ends:
            streak = 0 if status == "completed" else streak + (status in ("failed", "timed_out"))
            events, state = after_end(settings, state, status, streak, at)
            for event in events:
                self._add(batch, subject, settings, event, {**run, "streak": streak}, at)
        self._keep(batch, subject, state)

    def missed(self, batch: AlertBatch, subject: Subject, missed: Sequence[datetime], at: datetime,
               error: str) -> None:
        settings = self.settings(subject.alerts)
        if settings is None:
            return
        events, state = after_missed(settings, batch.states.get(subject.pk, subject.state), at)
        for event in events:
            self._add(batch, subject, settings, event, {"status": "missed", "missed": len(missed), "error": error,
                                                        "scheduled_for": iso_z(min(missed))}, at)
        self._keep(batch, subject, state)

    def fired(self, batch: AlertBatch, subject: Subject) -> None:
        if self.settings(subject.alerts) is not None:
            self._keep(batch, subject, after_fired(batch.states.get(subject.pk, subject.state)))

    def paused(self, batch: AlertBatch, subject: Subject, at: datetime, reason: str) -> None:
        settings = self.settings(subject.alerts)
        if settings is not None:
            for event in after_paused(settings):
                self._add(batch, subject, settings, event, None, at, pause_reason=reason)

    def test(self, subject: Subject, at: datetime) -> list[tuple[Any, ...]]:
        """A test alert's rows, one per channel of the schedule (and the operator's), being sent."""
        batch = AlertBatch()
        settings = AlertSettings.of({**(subject.alerts or {}), "enabled": True}) if subject.alerts else None
        self._add(batch, subject, settings or AlertSettings(frozenset(), ()), "test",
                  {"status": "test", "error": None}, at)
        return [(*row[:7], "sending", *row[8:]) for row in batch.rows]

    def _keep(self, batch: AlertBatch, subject: Subject, state: AlertState) -> None:
        if state != batch.states.get(subject.pk, subject.state):
            batch.states[subject.pk] = state

    def _add(self, batch: AlertBatch, subject: Subject, settings: AlertSettings, event: str,
             run: dict[str, Any] | None, at: datetime, **schedule_extra: Any) -> None:
        alert_id = str(uuid.uuid4())
        body = {"event": event, "schedule": subject.summary(**schedule_extra), "run": run, "occurred_at": iso_z(at)}
        for channel in settings.channels:
            target, extra = self._target(subject, channel.as_dict())
            batch.rows.append(self._row(alert_id, subject, event, channel.type, target, body | extra, at))
        if self.operator:
            batch.rows.append(self._row(alert_id, subject, event, "operator", "operator", body, at))

    @staticmethod
    def _target(subject: Subject, channel: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The key alerts are grouped by, and what delivery needs besides the payload."""
        if channel["type"] == "webhook":
            return channel["url"], {}
        entity = channel.get("entity_id") or str(subject.context_data.get("entity_id") or "")
        platform = channel.get("platform") or str(subject.context_data.get("platform") or "")
        return (f"chat:{subject.community_id or ''}:{entity}",
                {"chat": {"entity_id": entity, "platform": platform, "message": channel.get("message")}})

    def _row(self, alert_id: str, subject: Subject, event: str, channel: str, target: str, payload: dict[str, Any],
             at: datetime) -> tuple[Any, ...]:
        ts = self.dialect.ts
        return (alert_id, subject.schedule_id, subject.community_id, event, channel, target[:2100],
                json.dumps(payload, default=str, separators=(",", ":")), "pending", 0, ts(at), ts(at))

    # ---- writing -------------------------------------------------------------------------

    def load(self, dal: DAL, pks: Sequence[int]) -> dict[int, Subject]:
        """The schedules `pks` that alert, locked on PostgreSQL for the rest of the transaction
        (two replicas ending runs of one schedule decide its alerts one after the other)."""
        out: dict[int, Subject] = {}
        lock = " FOR UPDATE" if self.dialect.name == "postgres" else ""
        for start in range(0, len(pks), 500):
            chunk = list(pks[start:start + 500])
            rows = dal.executesql(self.dialect.params(
                f"SELECT {', '.join(SUBJECT_COLUMNS)} FROM workflow_schedules WHERE id IN "
                f"({', '.join('?' for _ in chunk)}) ORDER BY id{lock}"), placeholders=chunk)
            for row in rows:
                subject = subject_of(dict(zip(SUBJECT_COLUMNS, row, strict=True)))
                if self.wants(subject.alerts):
                    out[subject.pk] = subject
        return out

    def write(self, dal: DAL, batch: AlertBatch) -> None:
        cur = cursor(dal)
        if batch.states:
            cur.executemany(self.dialect.params("UPDATE workflow_schedules SET alert_state = ? WHERE id = ?"),
                            [(json.dumps(state.as_dict()), pk) for pk, state in batch.states.items()])
        for start in range(0, len(batch.rows), 200):
            chunk = batch.rows[start:start + 200]
            one = "(" + ", ".join("?" for _ in OUTBOX_COLUMNS) + ")"
            cur.execute(self.dialect.params(
                f"INSERT INTO schedule_alerts ({', '.join(OUTBOX_COLUMNS)}) VALUES {', '.join(one for _ in chunk)}"),
                [value for row in chunk for value in row])


# ---- delivery --------------------------------------------------------------------------------

DELIVERY_COLUMNS = ("id", "alert_id", "schedule_id", "community_id", "event", "channel", "target", "payload",
                    "attempts")
ANSWER_COLUMNS = ("id", "alert_id", "schedule_id", "community_id", "event", "channel", "target", "status",
                  "attempts", "last_error", "digest_size", "created_at", "next_attempt_at", "sent_at")


@dataclass(frozen=True, slots=True)
class Pending:
    """An alert row claimed for delivery."""

    id: int
    alert_id: str
    schedule_id: str
    community_id: str | None
    event: str
    channel: str
    target: str
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one delivery attempt of these rows gave."""

    ids: tuple[int, ...]
    ok: bool
    error: str | None
    digest_size: int


class AlertStore:
    def __init__(self, database: Database) -> None:
        self.database = database
        self.dialect = database.dialect

    async def claim(self, now: datetime, replica_id: str, digest_seconds: float, limit: int = 500) -> list[Pending]:
        """Take the alerts due now whose target had no message in the last `digest_seconds`
        (the others wait until it has been that long), for this replica, leased. A look on a reader
        thread first: an idle replica polls without taking the writer (or PostgreSQL's lock)."""
        if not await self.database.read(self._any_due, now):
            return []
        return await self.database.write(self._claim, now, replica_id, digest_seconds, limit)

    def _any_due(self, dal: DAL, now: datetime) -> bool:
        ts = self.dialect.ts
        return bool(dal.executesql(self.dialect.params(
            f"SELECT 1 FROM schedule_alerts WHERE {_DUE} LIMIT 1"), placeholders=[ts(now), ts(now)]))

    def _claim(self, dal: DAL, now: datetime, replica_id: str, digest_seconds: float, limit: int) -> list[Pending]:
        d, ts = self.dialect, self.dialect.ts
        cur = cursor(dal)
        if d.name == "postgres":
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
        cur.execute(d.params(
            f"SELECT {', '.join(DELIVERY_COLUMNS)} FROM schedule_alerts WHERE {_DUE} ORDER BY id LIMIT ?"),
            (ts(now), ts(now), limit))
        rows = [Pending(int(r[0]), r[1].rstrip(), r[2].rstrip(), r[3], r[4], r[5], r[6], json.loads(r[7]), int(r[8]))
                for r in cur.fetchall()]
        if not rows:
            return []
        targets = sorted({r.target for r in rows})
        held: dict[str, datetime] = {}
        if digest_seconds > 0:
            cur.execute(d.params(
                f"SELECT target, MAX(sent_at) FROM schedule_alerts WHERE target IN ({', '.join('?' for _ in targets)}) "
                "AND sent_at > ? GROUP BY target"), (*targets, ts(now - timedelta(seconds=digest_seconds))))
            for target, last in cur.fetchall():
                held[target] = as_utc(last if isinstance(last, datetime) else datetime.fromisoformat(last)) \
                    + timedelta(seconds=digest_seconds)
        for target, until in held.items():
            cur.execute(d.params("UPDATE schedule_alerts SET next_attempt_at = ?, status = 'pending' WHERE target = ? "
                                 "AND status IN ('pending', 'sending') AND next_attempt_at < ? AND "
                                 "(status = 'pending' OR lease_until < ?)"), (ts(until), target, ts(until), ts(now)))
        taken = [r for r in rows if r.target not in held]
        for start in range(0, len(taken), 500):
            chunk = [r.id for r in taken[start:start + 500]]
            cur.execute(d.params(f"UPDATE schedule_alerts SET status = 'sending', claimed_by = ?, lease_until = ? "
                                 f"WHERE id IN ({', '.join('?' for _ in chunk)})"),
                        (replica_id, ts(now + timedelta(seconds=LEASE_SECONDS)), *chunk))
        return taken

    async def record(self, outcomes: Sequence[Outcome], now: datetime, retry_base_seconds: float | None) -> list[int]:
        """Record what deliveries gave; the ids of rows that have now failed for good (all that
        failed, without `retry_base_seconds`)."""
        return await self.database.write(self._record, outcomes, now, retry_base_seconds)

    def _record(self, dal: DAL, outcomes: Sequence[Outcome], now: datetime, retry_base: float | None) -> list[int]:
        d, ts = self.dialect, self.dialect.ts
        cur = cursor(dal)
        given_up: list[int] = []
        for o in outcomes:
            marks = ", ".join("?" for _ in o.ids)
            if o.ok:
                cur.execute(d.params(f"UPDATE schedule_alerts SET status = 'sent', attempts = attempts + 1, "
                                     f"sent_at = ?, digest_size = ?, last_error = NULL, lease_until = NULL "
                                     f"WHERE id IN ({marks})"), (ts(now), o.digest_size, *o.ids))
                continue
            cur.execute(d.params(f"SELECT id, attempts FROM schedule_alerts WHERE id IN ({marks})"), o.ids)
            for pk, attempts in cur.fetchall():
                tried = int(attempts) + 1
                final = retry_base is None or tried >= MAX_ATTEMPTS
                later = now if retry_base is None else now + timedelta(seconds=retry_base * 2 ** (tried - 1))
                cur.execute(d.params("UPDATE schedule_alerts SET status = ?, attempts = ?, last_error = ?, "
                                     "next_attempt_at = ?, digest_size = ?, lease_until = NULL WHERE id = ?"),
                            ("failed" if final else "pending", tried, (o.error or "")[:1000],
                             ts(now if final else later), o.digest_size, pk))
                if final:
                    given_up.append(int(pk))
        return given_up

    async def add(self, rows: Sequence[tuple[Any, ...]]) -> list[int]:
        """Write rows of one alert decided outside a run's transaction (a test alert); their ids,
        in the order of `rows`."""
        def run(dal: DAL) -> list[int]:
            AlertBook(self.dialect).write(dal, AlertBatch(list(rows)))
            found = dal.executesql(self.dialect.params("SELECT id FROM schedule_alerts WHERE alert_id = ? ORDER BY id"),
                                   placeholders=[rows[0][0]])
            return [int(r[0]) for r in found]

        return await self.database.write(run) if rows else []

    async def listing(self, *, schedule_id: str | None = None, community_id: str | None = None,
                      scoped: bool = False, limit: int = 50, before: int | None = None) -> list[dict[str, Any]]:
        """Deliveries, newest first: of one schedule, or (with `scoped`) of one community's schedules."""
        d = self.dialect
        where: list[str] = []
        params: list[Any] = []
        if schedule_id is not None:
            where.append("schedule_id = ?")
            params.append(schedule_id)
        if scoped:
            where.append("community_id = ?" if community_id is not None else "community_id IS NULL")
            params += [community_id] if community_id is not None else []
        if before is not None:
            where.append("id < ?")
            params.append(before)
        sql = (f"SELECT {', '.join(ANSWER_COLUMNS)}, payload FROM schedule_alerts"
               + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY id DESC LIMIT ?")

        def run(dal: DAL) -> list[dict[str, Any]]:
            return [_answer(r) for r in dal.executesql(d.params(sql), placeholders=[*params, limit])]

        return await self.database.read(run)

    async def purge(self, cutoff: datetime, batch: int = 1000) -> int:
        """Forget delivered and failed alerts created before `cutoff`."""
        d = self.dialect

        def run(dal: DAL) -> int:
            cur = cursor(dal)
            cur.execute(d.params("DELETE FROM schedule_alerts WHERE id IN (SELECT id FROM schedule_alerts WHERE "
                                 "status IN ('sent', 'failed') AND created_at < ? LIMIT ?)"), (d.ts(cutoff), batch))
            return int(cur.rowcount or 0)

        return await self.database.write(run)


def _answer(row: Sequence[Any]) -> dict[str, Any]:
    out = dict(zip(ANSWER_COLUMNS, row[:-1], strict=True))
    for name in ("alert_id", "schedule_id"):
        out[name] = str(out[name]).rstrip()
    for name in ("created_at", "next_attempt_at", "sent_at"):
        value = out[name]
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        out[name] = iso_z(as_utc(value)) if value is not None else None
    payload = _json(row[-1]) or {}
    out["schedule_name"] = (payload.get("schedule") or {}).get("name")
    out["run"] = payload.get("run")
    out["occurred_at"] = payload.get("occurred_at")
    if out["channel"] == "operator":
        out["target"] = "ALERT_WEBHOOK_URL"
    if out["status"] in ("sent", "failed"):
        out.pop("next_attempt_at")
    return out
