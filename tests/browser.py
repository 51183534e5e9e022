"""Playwright helpers for the dashboard tests: Debian's chromium, a console watch, plain API calls."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from .processes import http_json

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def require_chromium() -> None:
    """Skip without /usr/bin/chromium, or fail when the environment says REQUIRE_BROWSER=1."""
    if CHROMIUM.is_file():
        return
    reason = f"{CHROMIUM} is not installed (apt-get install chromium)"
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"a browser is required (REQUIRE_BROWSER=1) but {reason}")
    pytest.skip(reason)


def api(base_url: str, key: str, method: str, path: str, body: object | None = None) -> tuple[int, Any]:
    """One call to the v1 API: (status, parsed body)."""
    return http_json(method, f"{base_url}/api/v1{path}", key, body)


class ConsoleWatch:
    """Collects every console error and page error of a page.

    Chromium logs each HTTP error answer ("Failed to load resource: ... status of 400") as a console
    error. A test that provokes one on purpose (an invalid cron, a name conflict, a bad key) wraps the
    step in `expect_http_error(status, path)`: exactly those messages, inside that step, are then
    expected (and required); anything else fails the test in `assert_clean()`.
    """

    def __init__(self, page: Any) -> None:
        self.page = page
        self.problems: list[tuple[str, str]] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append((f"page error: {error}", "")))

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.problems.append((message.text, message.location.get("url", "")))

    @staticmethod
    def _is_http(problem: tuple[str, str], status: int, path: str) -> bool:
        text, url = problem
        return (text.startswith(f"Failed to load resource: the server responded with a status of {status}")
                and urlparse(url).path == path)

    @contextmanager
    def expect_http_error(self, status: int, path: str) -> Iterator[None]:
        start = len(self.problems)
        yield
        deadline = time.monotonic() + 3
        while not any(self._is_http(p, status, path) for p in self.problems[start:]):
            assert time.monotonic() < deadline, f"the browser never logged HTTP {status} for {path}"
            self.page.wait_for_timeout(50)
        window = self.problems[start:]
        del self.problems[start:]
        self.problems.extend(p for p in window if not self._is_http(p, status, path))

    def assert_clean(self) -> None:
        assert not self.problems, "browser console errors:\n" + "\n".join(f"{t} ({u})" for t, u in self.problems)


def screenshot(page: Any, name: str, *, full_page: bool = False) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
