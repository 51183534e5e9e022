"""Probes, metrics and the API description: /health, /api/v1/health, /metrics, /docs."""

from __future__ import annotations

import html
from typing import Any

from quart import Blueprint, Response, current_app
from quart_schema import document_response, hide, security_scheme

from .context import principal, runtime
from .schemas import HealthOut, WhoAmI

bp = Blueprint("ops", __name__)


@bp.get("/health")
@security_scheme([])
async def liveness() -> dict[str, str]:
    """Liveness: the process serves requests. No key needed."""
    return {"status": "ok"}


@bp.get("/api/v1/health")
@security_scheme([])
@document_response(HealthOut)
@document_response(HealthOut, 503)
async def readiness() -> tuple[dict[str, Any], int]:
    """Readiness: database, Redis and the scheduler loop's heartbeat. 200, or 503 when unhealthy. No key needed."""
    report = await runtime().status.health()
    return report, 503 if report["status"] == "unhealthy" else 200


@bp.get("/api/v1/whoami")
@document_response(WhoAmI)
async def whoami() -> dict[str, Any]:
    """The key in use: its name and the community it acts for (null: every community)."""
    who = principal()
    return {"name": who.name, "community_id": who.community_id, "is_global": who.is_global}


@bp.get("/metrics")
@hide
async def metrics() -> Response:
    """Prometheus text format. No key needed."""
    rt = runtime()
    return Response(rt.metrics.render(), content_type=rt.metrics.content_type)


@bp.get("/docs")
@hide
async def docs() -> Response:
    """The API description as a plain page (no scripts, no CDN)."""
    spec = current_app.extensions["QUART_SCHEMA"].openapi_provider.schema()
    return Response(render_docs(spec), content_type="text/html; charset=utf-8")


def _schema_name(node: dict[str, Any] | None) -> str:
    if not node:
        return ""
    ref = node.get("$ref") or (node.get("content", {}).get("application/json", {}).get("schema", {}) or {}).get("$ref")
    return ref.rsplit("/", 1)[-1] if ref else ""


def _fields(schema: dict[str, Any]) -> str:
    rows = []
    required = set(schema.get("required", []))
    for name, prop in schema.get("properties", {}).items():
        kind = prop.get("type") or " | ".join(p.get("type", p.get("$ref", "").rsplit("/", 1)[-1]) for p in
                                              prop.get("anyOf", [])) or prop.get("$ref", "").rsplit("/", 1)[-1]
        if "enum" in prop:
            kind = " | ".join(map(str, prop["enum"]))
        note = prop.get("description", "")
        rows.append(f"<tr><td><code>{html.escape(name)}</code>{' *' if name in required else ''}</td>"
                    f"<td>{html.escape(str(kind))}</td><td>{html.escape(note)}</td></tr>")
    return "<table>" + "".join(rows) + "</table>" if rows else ""


def render_docs(spec: dict[str, Any]) -> str:
    info = spec.get("info", {})
    parts = [f"<h1>{html.escape(info.get('title', 'API'))} {html.escape(info.get('version', ''))}</h1>",
             "<p>Send your key in the <code>X-API-Key</code> header. The machine-readable description is at "
             "<a href='/openapi.json'>/openapi.json</a>. Errors answer "
             "<code>{\"error\": {\"code\", \"message\", \"details\"}}</code>.</p>"]
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            parts.append(f"<h2><span class='m'>{method.upper()}</span> <code>{html.escape(path)}</code></h2>")
            text = op.get("description") or op.get("summary") or ""
            if text:
                parts.append(f"<p>{html.escape(text)}</p>")
            params = [p for p in op.get("parameters", []) if p.get("in") == "query"]
            if params:
                names = ", ".join(f"<code>{html.escape(p['name'])}</code>" for p in params)
                parts.append(f"<p>Query: {names}</p>")
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if body and _schema_name(body):
                parts.append(f"<p>Body: <a href='#{_schema_name(body)}'>{_schema_name(body)}</a></p>")
            elif body:
                parts.append(f"<p>Body: {html.escape(body.get('title', 'object'))} (* required)</p>{_fields(body)}")
            answers = ", ".join(f"{code} <a href='#{_schema_name(r)}'>{_schema_name(r)}</a>" if _schema_name(r)
                                else str(code) for code, r in op.get("responses", {}).items())
            parts.append(f"<p>Answers: {answers}</p>")
    parts.append("<h1>Schemas</h1>")
    for name, schema in spec.get("components", {}).get("schemas", {}).items():
        parts.append(f"<h3 id='{html.escape(name)}'>{html.escape(name)}</h3>{_fields(schema)}")
    style = ("body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}"
             "code{background:#f3f3f3;padding:0 .25em}.m{display:inline-block;min-width:4.5em;color:#06c}"
             "h2{font-size:1.05rem;margin:1.6rem 0 .2rem}table{border-collapse:collapse}td{border:1px solid #ddd;"
             "padding:.2rem .5rem;vertical-align:top}")
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(info.get('title', ''))}"
            f" API</title><meta name='viewport' content='width=device-width'><style>{style}</style></head><body>"
            + "".join(parts) + "</body></html>")

