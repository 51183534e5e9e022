"""Prometheus metrics: schedules, runs, scheduler passes and HTTP requests (one registry per app)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ..services.cache import ScheduleCache
from ..services.dispatcher import Dispatcher
from ..services.scheduler_loop import PassResult, SchedulerLoop

_LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
_PASS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.active_schedules = Gauge("wcm_active_schedules", "Active schedules in this replica's cache", registry=r)
        self.runs = Counter("wcm_runs", "Runs recorded, by status", ["status"], registry=r)
        self.fire_lag = Histogram("wcm_fire_lag_seconds", "Time from an occurrence to its claim", registry=r,
                                  buckets=_LAG_BUCKETS)
        self.pass_duration = Histogram("wcm_scheduler_pass_duration_seconds", "Duration of a scheduler pass",
                                       registry=r, buckets=_PASS_BUCKETS)
        self.due = Counter("wcm_scheduler_due_rows", "Due rows read by scheduler passes", registry=r)
        self.claims_lost = Counter("wcm_scheduler_claims_lost", "Due rows another replica claimed first", registry=r)
        self.alerts_sent = Counter("wcm_alerts_sent", "Alerts delivered, by channel and event", ["channel", "event"],
                                   registry=r)
        self.alerts_failed = Counter("wcm_alerts_failed", "Alert delivery attempts that failed, by channel",
                                     ["channel"], registry=r)
        self.http_requests = Counter("wcm_http_requests", "HTTP requests", ["method", "route", "status"], registry=r)
        self.http_duration = Histogram("wcm_http_request_duration_seconds", "HTTP request latency",
                                       ["method", "route"], registry=r, buckets=_HTTP_BUCKETS)

    def watch(self, cache: ScheduleCache, dispatcher: Dispatcher | None, loop: SchedulerLoop | None) -> None:
        self.active_schedules.set_function(lambda: len(cache))
        if dispatcher is not None:
            dispatcher.listeners.append(self._run_finished)
        if loop is not None:
            loop.pass_listeners.append(self._pass_done)

    def _run_finished(self, _fire: object, status: str, duration_seconds: float) -> None:
        self.runs.labels(status).inc()

    def _pass_done(self, result: PassResult) -> None:
        self.pass_duration.observe(result.duration_ms / 1000)
        self.due.inc(result.due)
        self.claims_lost.inc(result.lost)
        for status, count in (("missed", result.missed), ("skipped", result.skipped)):
            if count:
                self.runs.labels(status).inc(count)
        for lag_ms in result.lags_ms:
            self.fire_lag.observe(lag_ms / 1000)

    def alert_sent(self, channel: str, event: str, delivered: bool) -> None:
        if delivered:
            self.alerts_sent.labels(channel, event).inc()
        else:
            self.alerts_failed.labels(channel).inc()

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.http_requests.labels(method, route, str(status)).inc()
        self.http_duration.labels(method, route).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
