"""The operator dashboard at /ui: static files that use only the public v1 API."""

from __future__ import annotations

from pathlib import Path

from quart import Blueprint, Response, redirect, send_from_directory
from quart.typing import ResponseReturnValue

STATIC = Path(__file__).parent / "static"

bp = Blueprint("web", __name__)


@bp.get("/ui")
async def ui_root() -> ResponseReturnValue:
    return redirect("/ui/")


@bp.get("/ui/")
async def ui_index() -> Response:
    return await send_from_directory(STATIC, "index.html")


@bp.get("/ui/<path:name>")
async def ui_file(name: str) -> Response:
    return await send_from_directory(STATIC, name)
