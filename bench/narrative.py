"""The per-scenario part of docs/performance.md: method, settings, every figure, notes, profiles."""

from __future__ import annotations

from typing import Any

from .common import fmt


def _cell(node: dict[str, Any] | None) -> str:
    if not node or node.get("median") is None:
        return "n/a"
    text = fmt(node["median"], node.get("unit", ""))
    if node.get("min") is not None and node["min"] != node["max"]:
        text += f" [{fmt(node['min'])}-{fmt(node['max'])}]"
    return text


def figures_table(figures: dict[str, Any]) -> list[str]:
    """Variants as rows, metrics as columns (the union, in first-seen order)."""
    if not figures:
        return []
    metrics: list[str] = []
    for values in figures.values():
        for metric in values:
            if metric not in metrics:
                metrics.append(metric)
    lines = ["| variant | " + " | ".join(metrics) + " |", "|---|" + "---|" * len(metrics)]
    for name, values in figures.items():
        lines.append(f"| {name} | " + " | ".join(_cell(values.get(m)) for m in metrics) + " |")
    return lines


def profile_text(key: str, profile: dict[str, Any]) -> list[str]:
    if "error" in profile:
        return [f"- `{key}`: profile failed: {profile['error']}"]
    out = [
        f"**Profile of `{key}`** (py-spy, {profile['samples']:,} samples over all threads"
        + (
            f"; the profiled run: {', '.join(f'{k} {fmt(v)}' for k, v in profile['run_under_profiler'].items())}"
            if profile.get("run_under_profiler")
            else ""
        )
        + "):",
        "",
    ]
    out.append("Where the samples are: " + ", ".join(f"{t['where']} {t['share']} %" for t in profile["threads"]) + ".")
    out.append("")
    out.append("| hot spot (self time) | share | | on the stack (inclusive, service and drivers) | share |")
    out.append("|---|---|---|---|---|")
    for i in range(max(len(profile["self"]), len(profile["inclusive"]))):
        s = profile["self"][i] if i < len(profile["self"]) else {"where": "", "share": ""}
        n = profile["inclusive"][i] if i < len(profile["inclusive"]) else {"where": "", "share": ""}
        out.append(
            f"| `{s['where']}` | {s['share']} % | | `{n['where']}` | {n['share']} % |"
            if n["where"]
            else f"| `{s['where']}` | {s['share']} % | | | |"
        )
    out.append("")
    return out


def scenario_text(result: dict[str, Any]) -> list[str]:
    out = [f"### {result['scenario']}: {result['title']}", ""]
    if result.get("method"):
        out += [result["method"], ""]
    if result.get("settings"):
        out += ["Settings: " + ", ".join(f"{k} = {v}" for k, v in result["settings"].items()) + ".", ""]
    if result.get("timed_out"):
        out += [f"**This scenario reached its time bound ({result.get('bound_seconds')} s).**", ""]
    for note in result.get("notes", []):
        out += [f"- {note}"]
    if result.get("notes"):
        out.append("")
    out += ["Every figure (median [min-max] over the runs):", ""] + figures_table(result.get("figures", {})) + [""]
    profiles = result.get("profiles") or {}
    if isinstance(profiles.get("note"), str):
        out += [profiles["note"], ""]
    for key, profile in profiles.items():
        if key != "note" and isinstance(profile, dict):
            out += profile_text(key, profile)
    return out
