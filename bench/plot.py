"""docs/performance.png: fire-burst duration and idle pass cost against table size."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any


def _series(
    figures: dict[str, Any], prefix: str, metric: str
) -> tuple[list[int], list[float], list[float], list[float]]:
    xs, ys, lo, hi = [], [], [], []
    for name, metrics in figures.items():
        m = re.fullmatch(re.escape(prefix) + r"@(\d+)", name)
        if not m or metric not in metrics or metrics[metric]["median"] is None:
            continue
        xs.append(int(m.group(1)))
        ys.append(metrics[metric]["median"])
        lo.append(metrics[metric]["min"])
        hi.append(metrics[metric]["max"])
    order = sorted(range(len(xs)), key=xs.__getitem__)
    return [xs[i] for i in order], [ys[i] for i in order], [lo[i] for i in order], [hi[i] for i in order]


def _errorbar(
    axes: Any, xs: list[int], ys: list[float], lo: list[float], hi: list[float], style: str, label: str
) -> None:
    """Medians joined by a line, with bars from each size's min to its max."""
    below = [y - a for y, a in zip(ys, lo, strict=True)]
    above = [b - y for y, b in zip(ys, hi, strict=True)]
    axes.errorbar(xs, ys, yerr=[below, above], fmt=style, capsize=3, label=label)


def plot(results: list[dict[str, Any]], path: Path) -> bool:
    by = {r["scenario"]: r for r in results}
    if "burst" not in by and "idle_pass" not in by:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    if "burst" in by:
        f = by["burst"]["figures"]
        n = by["burst"]["settings"]["N"]
        for prefix, label, style in (
            ("ours-sqlite-1r", "ours, SQLite", "o-"),
            ("ours-postgres-1r", "ours, PostgreSQL", "s-"),
        ):
            xs, ys, lo, hi = _series(f, prefix, "duration_s")
            if xs:
                _errorbar(left, xs, ys, lo, hi, style, label)
        for prefix, label, style in (
            ("raw-sqlite-batched", "raw SQLite batched claim", "o:"),
            ("raw-postgres-set", "raw PostgreSQL set-based claim", "s:"),
        ):
            xs, ys, _, _ = _series(f, prefix, "seconds")
            if xs:
                left.plot(xs, ys, style, label=f"{label} (claim only)")
        value = f.get(f"ours-postgres-3r@{n}", {}).get("duration_s", {}).get("median")
        if value is not None:
            left.plot([n], [value], "P", markersize=9, label="ours, PostgreSQL, 3 replicas")
        for name, marker, label in (
            ("aps-sqlalchemy-sqlite-graceNone", "v", "APScheduler SQLAlchemy/SQLite"),
            ("aps-sqlalchemy-sqlite-wal-graceNone", "^", "APScheduler SQLAlchemy/SQLite WAL"),
            ("aps-memory-graceNone", "D", "APScheduler memory"),
        ):
            value = f.get(name, {}).get("duration_s", {}).get("median")
            if value is not None:
                left.plot([n], [value], marker, label=f"{label} ({n:,} jobs)")
        left.axhline(1.0, color="grey", linestyle="--", linewidth=1, label="target 1.0 s")
        left.set_xscale("log")
        left.set_yscale("log")
        left.set_xlabel("schedules in the table")
        left.set_ylabel(f"T to last of {n:,} started (s)")
        left.set_title(f"Fire burst: {n:,} due at once")
        left.grid(True, which="both", alpha=0.3)
        left.legend(fontsize=7)
    if "idle_pass" in by:
        f = by["idle_pass"]["figures"]
        for prefix, metric, label, style in (
            ("ours-sqlite", "pass_ms", "ours, SQLite: pass", "o-"),
            ("ours-postgres", "pass_ms", "ours, PostgreSQL: pass", "s-"),
            ("raw-sqlite", "due_query_ms", "raw due query, SQLite", "o:"),
            ("raw-postgres", "due_query_ms", "raw due query, PostgreSQL", "s:"),
        ):
            xs, ys, lo, hi = _series(f, prefix, metric)
            if xs:
                _errorbar(right, xs, ys, lo, hi, style, label)
        right.axhline(5.0, color="grey", linestyle="--", linewidth=1, label="target 5 ms at 1M")
        right.set_xscale("log")
        right.set_yscale("log")
        right.set_xlabel("active schedules in the table (none due)")
        right.set_ylabel("median pass (ms)")
        right.set_title("Idle pass cost")
        right.grid(True, which="both", alpha=0.3)
        right.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
