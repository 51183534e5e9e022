"""What the dispatcher runs (a Fire) and how an attempt names its run (a RunLink): the shapes
the claim, the journal's chains, manual runs and recovery hand over."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..scheduling.schedule import RunLimits
from ..scheduling.trigger import trigger_dict, trigger_time


@dataclass(frozen=True, slots=True)
class RunLink:
    """The schedule run an execution attempt belongs to."""

    run_id: str
    schedule_pk: int
    replica_id: str
    alerting: bool = True  # its schedule may alert (False: the claim saw it has no alerts)


@dataclass(frozen=True, slots=True)
class Fire:
    """A claimed occurrence to run (or a manual / recovered run)."""

    run_id: str
    schedule_pk: int
    schedule_id: str
    workflow_id: str
    community_id: str | None
    scheduled_for: datetime
    fired_at: datetime
    context_data: dict[str, Any]
    callback_url: str | None
    jitter_seconds: int = 0
    trigger: str = "schedule"
    wait_for: tuple[str, ...] = ()
    attempt: int = 0
    execution_id: str | None = None  # the first attempt's id, when it was chosen ahead
    started: bool = False  # its first attempt was recorded running at the claim, a slot set aside
    limits: RunLimits = RunLimits()  # the schedule's own timeout and retries
    alerting: bool = True  # its schedule may alert (False: the claim saw it has no alerts)
    upstream: dict[str, Any] | None = None  # a chain run's: the upstream run whose end started it

    def trigger_data(self, attempt: int | None = None) -> dict[str, Any]:
        """The run's `trigger` (every key of TriggerData) for an attempt (default: the next)."""
        return trigger_dict(trigger=self.trigger, schedule_id=self.schedule_id, run_id=self.run_id,
                            scheduled_for=trigger_time(self.scheduled_for), fired_at=trigger_time(self.fired_at),
                            attempt=attempt or self.attempt + 1, context_data=self.context_data,
                            upstream=self.upstream)

    def link(self, replica_id: str) -> RunLink:
        return RunLink(self.run_id, self.schedule_pk, replica_id, self.alerting)
