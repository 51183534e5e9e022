"""create_app(settings) -> the Quart app, with the runtime (database and services) tied to its
serving lifecycle."""

from __future__ import annotations

from quart import Quart

from . import __version__
from .api import register_api
from .clock import Clock, SystemClock
from .config import Settings
from .runtime import Runtime


def create_app(settings: Settings, *, clock: Clock | None = None) -> Quart:
    app = Quart(__name__)
    runtime = Runtime(settings, clock or SystemClock())
    app.extensions["runtime"] = runtime
    register_api(app, __version__)

    @app.before_serving
    async def _start() -> None:
        await runtime.start()

    @app.after_serving
    async def _stop() -> None:
        await runtime.stop()

    return app
