"""The HTTP surface: /api/v1 (schedules, workflows, executions, audit), probes, metrics, OpenAPI."""

from __future__ import annotations

import time

from quart import Quart, Response, g, request
from quart_schema import QuartSchema

from .. import web
from . import alerts, audit, calendars, chat, communities, maintenance, ops, runs, schedules, transfer, workflows
from .auth import presented_key
from .body import guard_json
from .context import runtime
from .errors import error_response, register_error_handlers

MAX_BODY_BYTES = 1024 * 1024
# Paths under /api/v1 that need no key (the chat endpoint checks its own service key).
PUBLIC = frozenset({"/api/v1/health", "/api/v1/execute"})


def register_api(app: Quart, version: str) -> None:
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    QuartSchema(
        app,
        openapi_path="/openapi.json",
        swagger_ui_path=None,
        redoc_ui_path=None,
        scalar_ui_path=None,
        info={"title": "workflow_core_module", "version": version,
              "description": "Schedules and runs workflows: cron, interval and one-time, in any time zone."},
        security_schemes={"ApiKey": {"type": "apiKey", "in_": "header", "name": "X-API-Key"}},
        security=[{"ApiKey": []}],
    )
    guard_json(app)  # after QuartSchema, which installs the provider that answers are dumped with
    register_error_handlers(app)
    app.url_map.converters["schedule_id"] = schedules.ScheduleIdConverter  # before the routes that use it
    for blueprint in (ops.bp, runs.bp, alerts.bp, schedules.bp, calendars.bp, transfer.bp, workflows.bp,
                      communities.bp, audit.bp, maintenance.bp, chat.bp, web.bp):
        app.register_blueprint(blueprint)

    @app.before_request
    async def authenticate() -> Response | None:
        g.started = time.perf_counter()
        path = request.path
        if not path.startswith("/api/v1/") or path in PUBLIC:
            return None
        presented = presented_key(request.headers)
        if not presented:
            return error_response(401, "unauthorized", "send your API key in the X-API-Key header")
        auth = runtime().auth
        found = await auth.principal_for(presented, request.method, path)
        if found is None and auth.is_router(presented):
            return error_response(403, "forbidden", "the router's service key is accepted on POST /api/v1/execute "
                                  "and POST /api/v1/workflows/{id}/execute only")
        if found is None:
            return error_response(401, "unauthorized", "unknown or revoked API key")
        g.principal = found
        return None

    @app.after_request
    async def observe(response: Response) -> Response:
        started = getattr(g, "started", None)
        if started is not None:
            route = request.url_rule.rule if request.url_rule is not None else "unmatched"
            runtime().metrics.observe_request(request.method, route, response.status_code,
                                              time.perf_counter() - started)
        return response
