"""python -m bench [--quick] [--only burst,idle_pass,...]: run the scenarios, print the table,
write bench/results/<scenario>.json and regenerate docs/performance.md with its plot.

Scenarios (each bounded in time, each with a --quick size):
  burst      fire burst of N schedules due at one instant, against APScheduler and raw SQL
  idle_pass  cost of a pass with nothing due, against table size, against the raw due query
  idle_lag   one schedule due every second: how late it starts, against APScheduler
  startup    process start to ready, RSS and cache bytes per schedule, against APScheduler
  api        32 clients: POST and GET schedules, with GET /health as the stack's ceiling
  run_bytes  SQLite bytes per completed scheduled run (one step, small output), after 100k runs
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib
import os
import shlex
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from .common import (
    DEFAULT_PG_URL,
    FULL,
    QUICK,
    RESULTS,
    Context,
    PgServer,
    code_fingerprint,
    make_workdir,
    new_result,
    remove_workdir,
    write_json,
)
from .profile import find_py_spy

SCENARIOS = ("burst", "idle_pass", "idle_lag", "startup", "api", "run_bytes")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run of every scenario")
    parser.add_argument("--only", default="", help=f"comma-separated scenarios ({', '.join(SCENARIOS)})")
    parser.add_argument("--runs", type=int, default=None, help="runs per figure (default 3; at least 3 for the docs)")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_POSTGRES_URL") or DEFAULT_PG_URL,
        help="server where private databases are created and dropped (default: %(default)s)",
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument(
        "--no-profile",
        action="store_true",
        help="do not profile missed targets (by default each gets one extra, unmeasured run under py-spy, "
        "when py-spy is installed)",
    )
    parser.add_argument("--py-spy", default=None, help="path of the py-spy binary (else $PY_SPY or PATH)")
    parser.add_argument("--no-docs", action="store_true", help="do not regenerate docs/performance.md")
    parser.add_argument(
        "--results-dir",
        default=None,
        help="where the results files go (default: bench/results, or bench/results/quick with --quick)",
    )
    parser.add_argument(
        "--docs-only",
        action="store_true",
        help="run nothing: print the table and rewrite the docs from the results files",
    )
    args = parser.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in only if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    args.scenarios = only or list(SCENARIOS)
    return args


def _results_dir(args: argparse.Namespace, quick: bool) -> Path:
    if args.results_dir:
        return Path(args.results_dir).resolve()
    return RESULTS / "quick" if quick else RESULTS


def _shown(path: Path) -> str:
    """`path` relative to the repository when it is inside it."""
    try:
        return str(path.relative_to(RESULTS.parents[1]))
    except ValueError:
        return str(path)


async def run_all(args: argparse.Namespace) -> int:
    from .report import print_table, write_docs
    from .seed import Tables

    sizes = QUICK if args.quick else FULL
    if args.runs is not None:
        sizes = dataclasses.replace(sizes, runs=max(1, args.runs))
    results_dir = _results_dir(args, sizes.quick)
    command = "python -m bench " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    pg = None
    work = make_workdir()
    ctx = Context(sizes, results_dir, work, None, not args.no_profile, find_py_spy(args.py_spy), command.strip())
    if not args.no_postgres:
        pg = PgServer(args.postgres_url)
        reason = pg.check()
        if reason is None:
            ctx.pg = pg
            ctx.say(f"PostgreSQL {pg.version} at {args.postgres_url.split('@')[-1]}: private databases {pg.prefix}_*")
        else:
            ctx.say(f"PostgreSQL not available ({reason}); PostgreSQL variants are skipped")
            pg = None
    if not args.no_profile and not ctx.py_spy:
        ctx.say("py-spy not found (pip install py-spy, or --py-spy PATH): missed targets are not profiled")
    ctx.say(
        f"{'quick' if sizes.quick else 'full'} run, {sizes.runs} runs per figure, scenarios: "
        f"{', '.join(args.scenarios)}; results in {_shown(results_dir)}/"
    )
    tables = Tables(ctx)
    produced: list[dict[str, Any]] = []
    began = time.perf_counter()
    try:
        for name in args.scenarios:
            module = importlib.import_module(f".{name}", __package__)
            result = new_result(ctx, name, module.TITLE)
            bound = sizes.bounds[name]
            ctx.say(f"== {name}: {module.TITLE} (bound {bound:.0f} s)")
            started = time.perf_counter()
            try:
                await asyncio.wait_for(module.run(ctx, tables, result), bound)
            except asyncio.TimeoutError:
                result["timed_out"] = True
                result["notes"].append(
                    f"stopped at its time bound ({bound:.0f} s): figures come from the runs finished by then"
                )
                ctx.say(f"   {name} reached its time bound of {bound:.0f} s")
                try:
                    result["rows"] = module.rows(result)
                except Exception:  # noqa: BLE001 - partial figures may not make every row
                    pass
            except Exception as exc:  # noqa: BLE001 - one broken scenario must not hide the others
                result["failures"].append(f"error: {type(exc).__name__}: {exc}")
                result["traceback"] = traceback.format_exc()
                ctx.say(f"   {name} failed: {type(exc).__name__}: {exc}")
                traceback.print_exc()
                try:
                    result["rows"] = module.rows(result)
                except Exception:  # noqa: BLE001
                    pass
            result["elapsed_seconds"] = round(time.perf_counter() - started, 1)
            result["code"]["after"] = code_fingerprint()
            result["code"]["changed_during_run"] = result["code"]["after"] != result["code"]["before"]
            if result["code"]["changed_during_run"]:
                result["notes"].append(
                    f"The service's code changed while this scenario ran ({result['code']['before']} -> "
                    f"{result['code']['after']}): its figures mix two versions of the service; run it again."
                )
                ctx.say(f"   WARNING: the service's code changed during {name}; its figures mix two versions")
            result["seed_seconds"] = tables.seed_times()
            write_json(results_dir / f"{name}.json", result)
            produced.append(result)
            ctx.say(f"   {name} done in {result['elapsed_seconds']:.0f} s -> {results_dir.name}/{name}.json")
    finally:
        tables.cleanup()
        if pg is not None:
            pg.drop_all()
        remove_workdir(work)
    total = time.perf_counter() - began
    print_table(produced)
    if not args.no_docs:
        path = write_docs(results_dir, quick=sizes.quick, total_seconds=total, command=ctx.command)
        ctx.say(f"wrote {_shown(path)}")
    failures = [f"{r['scenario']}: {f}" for r in produced for f in r["failures"]]
    ctx.say(f"total {total:.0f} s")
    if failures:
        print("\nFAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


def docs_only(args: argparse.Namespace) -> int:
    from .report import load, print_table, write_docs

    results_dir = _results_dir(args, args.quick)
    results = load(results_dir)
    if not results:
        print(f"no results in {results_dir}", file=sys.stderr)
        return 1
    print_table(results)
    total = sum(r.get("elapsed_seconds") or 0 for r in results)
    command = results[0].get("command") or "python -m bench"
    print(f"wrote {write_docs(results_dir, quick=args.quick, total_seconds=total, command=command)}")
    return 0


def main() -> None:
    args = parse_args()
    sys.exit(docs_only(args) if args.docs_only else asyncio.run(run_all(args)))


if __name__ == "__main__":
    main()
