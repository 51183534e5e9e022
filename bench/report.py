"""The results table (terminal and Markdown), docs/performance.md and its plot."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .common import DOCS, fmt

ORDER = ("burst", "idle_pass", "idle_lag", "startup", "api", "run_bytes")


def _ours(r: dict[str, Any]) -> str:
    text = fmt(r["ours"], r["unit"])
    if r.get("spread") and r["spread"][0] is not None and r["ours"] is not None and r["spread"][0] != r["spread"][1]:
        text += f" [{fmt(r['spread'][0])}-{fmt(r['spread'][1])}]"
    return text


def _factor(r: dict[str, Any]) -> str:
    return "" if r.get("factor") is None else f"{r['factor']:.2f}x"


def _status(r: dict[str, Any]) -> str:
    if r["met"] is None:
        return ""
    return "met" if r["met"] else f"MISSED: {r['miss']}"


def table_rows(results: list[dict[str, Any]], *, targets_only: bool = False) -> list[list[str]]:
    out = []
    for result in results:
        for r in result.get("rows", []):
            if targets_only and r["met"] is None:
                continue
            out.append(
                [
                    r["figure"],
                    _ours(r),
                    r.get("peer_label") or "",
                    fmt(r.get("peer"), r["unit"]) if r.get("peer_label") else "",
                    _factor(r),
                    r.get("target") or "",
                    _status(r),
                ]
            )
    return out


def target_rows(results: list[dict[str, Any]]) -> list[list[str]]:
    """One line per target: every peer compared on that figure in one cell."""
    merged: dict[str, dict[str, Any]] = {}
    for result in results:
        for r in result.get("rows", []):
            if r["met"] is None:
                continue
            entry = merged.setdefault(r["figure"], {"row": r, "peers": []})
            if r.get("peer_label"):
                entry["peers"].append(
                    f"{r['peer_label']}: {fmt(r.get('peer'), r['unit'])}"
                    + (f" (ours {_factor(r)})" if r.get("factor") is not None else "")
                )
    return [
        [k, _ours(v["row"]), v["row"].get("target") or "", _status(v["row"]), "; ".join(v["peers"])]
        for k, v in merged.items()
    ]


TARGET_HEADER = ["figure", "ours: median [min-max]", "target", "status", "peers in the same run (ours x better)"]
HEADER = [
    "figure",
    "ours: median [min-max]",
    "peer (same run)",
    "peer",
    "x peer (>1 = ours better)",
    "target",
    "status",
]


def print_table(results: list[dict[str, Any]]) -> None:
    rows = table_rows(results)
    if not rows:
        return
    widths = [min(60, max(len(h), *(len(r[i]) for r in rows))) for i, h in enumerate(HEADER)]
    line = "  ".join(h.ljust(w) for h, w in zip(HEADER, widths, strict=False))
    print("\n" + line + "\n" + "-" * len(line))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)))
    print("\nTargets:")
    for r in target_rows(results):
        print(f"  {r[3] or '-'}  |  {r[0]}: {r[1]} (target {r[2]})")
    print()


def _md_table(rows: list[list[str]], header: list[str]) -> str:
    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def load(results_dir: Path) -> list[dict[str, Any]]:
    found = []
    for name in ORDER:
        path = results_dir / f"{name}.json"
        if path.exists():
            found.append(json.loads(path.read_text()))
    return found


def write_docs(results_dir: Path, *, quick: bool, total_seconds: float, command: str) -> Path:
    """docs/performance.md (+ docs/performance.png) from every results file present; a quick run
    writes them next to its results instead, so a smoke run never replaces the real figures."""
    from .plot import plot

    results = load(results_dir)
    target_dir = results_dir if quick else DOCS
    png = target_dir / "performance.png"
    plotted = plot(results, png)
    md = target_dir / "performance.md"
    md.write_text(render(results, png.name if plotted else None, total_seconds=total_seconds, command=command))
    return md


def code_line(results: list[dict[str, Any]]) -> str:
    versions = sorted(
        {
            f"git HEAD {(r.get('code') or {}).get('before', {}).get('git_head')} "
            f"(files sha256 {(r.get('code') or {}).get('before', {}).get('tree_sha256')})"
            for r in results
        }
    )
    text = "Service code measured: " + "; ".join(versions) + "."
    for r in results:
        if (r.get("code") or {}).get("changed_during_run"):
            text += f" **{r['scenario']}: the code changed during the scenario; its figures mix two versions.**"
    return text


def render(results: list[dict[str, Any]], png: str | None, *, total_seconds: float, command: str) -> str:
    from .narrative import scenario_text

    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    first = results[0] if results else {}
    mach, vers = first.get("machine", {}), first.get("versions", {})
    parts = [
        "# Performance",
        "",
        f"> Generated by `{command}` (`make bench`) on {now}; do not edit by hand, run the benchmark again.",
        f"> Every figure is the median of {first.get('runs', 3)} runs [min-max], measured in the same invocation as "
        "the peer it is compared with. The machine is shared and noisy: read the ratios, not the absolute figures.",
        "",
        f"Machine: {mach.get('cpu_count')} CPUs ({mach.get('cpu_model')}), "
        f"{(mach.get('memory_bytes') or 0) / 2**30:.0f} GiB, {mach.get('platform')}, Python {mach.get('python')}. "
        f"Versions: workflow_core_module {vers.get('workflow_core_module')}, APScheduler {vers.get('apscheduler')}, "
        f"SQLAlchemy {vers.get('sqlalchemy')}, SQLite {vers.get('sqlite')}, PostgreSQL {vers.get('postgres_server')}, "
        f"pyDAL {vers.get('pydal')}, psycopg2 {vers.get('psycopg2')}, Quart {vers.get('quart')}, "
        f"Hypercorn {vers.get('hypercorn')}.",
        "",
        code_line(results),
        "",
        "Scenario run times: "
        + ", ".join(
            f"{r['scenario']} {r.get('elapsed_seconds') or 0:.0f} s (bound {r.get('bound_seconds') or 0:.0f} s"
            + (", TIMED OUT" if r.get("timed_out") else "")
            + ")"
            for r in results
        )
        + ".",
        "",
        "## Targets",
        "",
        "`x peer` says how many times better ours is than the peer on that line (above 1: ours is better; "
        "for times and latencies it is peer / ours, for rates ours / peer). A missed target says by how much; "
        "the scenario's section below has the profile that says where the time goes.",
        "",
        _md_table(target_rows(results), TARGET_HEADER),
        "",
        "## All compared figures",
        "",
        _md_table(table_rows(results), HEADER),
        "",
    ]
    failures = [f"{r['scenario']}: {f}" for r in results for f in r.get("failures", [])]
    if failures:
        parts += ["**Failures:** " + "; ".join(failures), ""]
    if png:
        parts += [
            "## Fire burst and idle pass against table size",
            "",
            f"![burst and idle pass against table size]({png})",
            "",
        ]
    parts += ["## Method, scenario by scenario", ""]
    for result in results:
        parts += scenario_text(result)
    return "\n".join(parts).rstrip() + "\n"
