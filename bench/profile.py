"""Where the time goes: py-spy attached to a process for one extra (unmeasured) run.

py-spy is not a requirement of the project: it is used when found (``--py-spy PATH``, the
``PY_SPY`` environment variable, or ``py-spy`` on PATH); `pip install py-spy` provides it.
Stacks are sampled from every thread (the event loop, the database writer and readers) and
summed as shares of all non-idle samples.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

from .common import ROOT, stop_process


def find_py_spy(explicit: str | None) -> str | None:
    for candidate in (explicit, os.environ.get("PY_SPY"), shutil.which("py-spy")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


class Spy:
    """py-spy record attached to `pid` until stop()."""

    def __init__(self, py_spy: str, pid: int, out: Path, rate: int = 200) -> None:
        self.out = out
        self.err = out.with_suffix(".err")
        self._err = open(self.err, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                py_spy,
                "record",
                "--pid",
                str(pid),
                "--rate",
                str(rate),
                "--format",
                "raw",
                "--nolineno",
                "--output",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=self._err,
        )
        time.sleep(0.3)  # let it attach

    def stop(self, timeout: float = 60.0) -> None:
        stop_process(self.process, signal.SIGINT, timeout)  # SIGINT: py-spy writes its output, then exits
        self._err.close()


def _short(frame: str) -> str:
    """'func (path/to/file.py)' -> 'relative/file.py:func'."""
    if " (" not in frame or not frame.endswith(")"):
        return frame
    func, path = frame[:-1].split(" (", 1)
    root = str(ROOT) + "/"
    if path.startswith(root):
        path = path[len(root) :]
    elif "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    elif "/lib/python3" in path:
        path = "stdlib/" + path.split("/lib/python3", 1)[1].split("/", 1)[1]
    return f"{path}:{func}"


# Leaf frames of threads that are only waiting for work (py-spy does not always see a blocked C
# call as idle): the event loop in select(), database threads in queue.get(), a to_thread reader.
IDLE_LEAVES = (
    "selectors.py:EpollSelector.select",
    "workflow_core_module/db/database.py:Database._reader_main",
    "workflow_core_module/db/database.py:Database._writer_main",
    "concurrent/futures/thread.py:_worker",
    "concurrent/futures/thread.py:_WorkItem.run",
    "threading.py:Condition.wait",
    "threading.py:Event.wait",
    "queue.py:Queue.get",
    "threading.py:Thread._bootstrap_inner",
)


def _idle(frame: str) -> bool:
    return frame.removeprefix("stdlib/") in IDLE_LEAVES


def summarise(raw: Path, top: int = 15) -> dict[str, Any]:
    """Shares of the busy samples (threads waiting for work left out): by leaf function (self), by
    function anywhere on the stack (inclusive, service and drivers only), and by thread."""
    if not raw.exists():
        return {"error": "py-spy wrote nothing"}
    leaf: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = idle = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_short(f) for f in stack.split(";") if f]
        if not frames:
            continue
        if _idle(frames[-1]):
            idle += n
            continue
        total += n
        leaf[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
        names = " ".join(frames)
        if "_writer_main" in names:
            threads["database writer thread"] += n
        elif "_reader_main" in names:
            threads["database reader threads"] += n
        elif "run_forever" in names or "asyncio" in names:
            threads["event loop (main thread)"] += n
        else:
            threads["other"] += n
    if total == 0:
        return {"error": "no samples"}

    def shares(counter: Counter[str], keep: Any = None) -> list[dict[str, Any]]:
        items = [(k, v) for k, v in counter.most_common() if keep is None or keep(k)]
        return [{"where": k, "share": round(100.0 * v / total, 1)} for k, v in items[:top]]

    roots = (
        "__main__.py:<module>",
        "__main__.py:main",
        "Database._writer_main",
        "Database._reader_main",
        "Database._run_group",
        "Database._read_once",
        "Database._run_alone",
        "bench/worker.py:",
    )

    def ours(name: str) -> bool:
        if any(r in name for r in roots):
            return False
        return name.startswith(
            (
                "workflow_core_module/",
                "pydal/",
                "psycopg2/",
                "stdlib/sqlite3",
                "quart/",
                "hypercorn/",
                "pydantic",
                "quart_schema/",
            )
        )

    return {
        "samples": total,
        "idle_samples_left_out": idle,
        "self": shares(leaf),
        "inclusive": shares(inclusive, ours),
        "threads": shares(threads),
    }
