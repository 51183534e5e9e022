"""`python -m bench --quick`, the idle-pass scenario: the benchmark still runs against the service's
current code (it drives internal APIs), and its results file says what it measured.

Only the scenario that needs nothing beyond the dev requirements runs here; the full benchmark,
with APScheduler and the plots, is `make bench`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quick_idle_pass_writes_figures_and_judges_its_targets(tmp_path: Path) -> None:
    pg = os.environ.get("TEST_POSTGRES_URL")
    args = ["--postgres-url", pg] if pg else ["--no-postgres"]
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "idle_pass", "--no-docs", "--no-profile",
         "--results-dir", str(tmp_path), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads((tmp_path / "idle_pass.json").read_text())
    assert result["failures"] == [] and not result["timed_out"]
    assert result["quick"] is True and result["code"]["changed_during_run"] is False
    dialects = ["sqlite", "postgres"] if pg else ["sqlite"]
    for dialect in dialects:
        for size in (1_000, 10_000):
            figure = result["figures"][f"ours-{dialect}@{size}"]["pass_ms"]
            assert figure["median"] > 0 and len(figure["runs"]) == 1
            assert result["figures"][f"raw-{dialect}@{size}"]["due_query_ms"]["median"] > 0
    judged = [r for r in result["rows"] if r["met"] is not None]
    assert len(judged) == 2 * len(dialects)  # the 5 ms bound and the size ratio, per database
    assert all(r["ours"] is not None for r in judged)
    assert "idle pass" in done.stdout and "Targets:" in done.stdout
