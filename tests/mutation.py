"""Mutation testing with cosmic-ray: `make mutate` (see docs/testing.md).

usage: python -m tests.mutation [TARGET ...] [--jobs N] [--workdir DIR] [--resume [--retest-survivors]]
                               [--fail-under PERCENT] [--list] [--report]

The targets, the tests that guard each and the accepted (equivalent) survivors are declared in
pyproject.toml under [tool.cosmic-ray]. For each target this:

1. copies the repository to WORKDIR/<target> (cosmic-ray edits the source file in place while it
   tests a mutant, so it never runs in the working tree);
2. runs the target's tests once unmutated (they must pass; their time sets the timeout);
3. `cosmic-ray init`, then marks as skipped the mutants that cannot change behaviour by rule
   (inside a type annotation, which `from __future__ import annotations` never evaluates;
   `is`/`==` swaps against None or an enum member) or lie outside the target's `functions`;
4. `cosmic-ray exec`, one mutant at a time;
5. prints the score (killed / (killed + survived)) and every survivor, the accepted ones with
   their reason.

Targets run one after the other unless --jobs N (each in its own copy, so they cannot see
each other's mutants).
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import subprocess
import sys
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
COPY_IGNORE = shutil.ignore_patterns(".venv", ".git", "__pycache__", ".pytest_cache", ".hypothesis", ".mypy_cache",
                                     ".ruff_cache", "storage", "node_modules", "*.sqlite", "*.sqlite-*", "mutants")
EQUIVALENT_IS = {"core/ReplaceComparisonOperator_Is_Eq", "core/ReplaceComparisonOperator_IsNot_NotEq"}


@dataclass(frozen=True)
class Target:
    name: str
    path: str  # the module's file, relative to the repository
    tests: list[str]
    functions: list[str] = field(default_factory=list)  # only these ("Class.method" or "function"); empty: all
    pytest_args: list[str] = field(default_factory=list)  # added to the shared ones


@dataclass(frozen=True)
class Accepted:
    """A survivor that cannot change behaviour: target ("*": any), operator, and pieces of the
    source line before (`line`) and after (`mutant`) the mutation; the reason says why."""

    target: str
    operator: str
    line: str
    mutant: str
    reason: str

    def matches(self, target: str, operator: str, line: str, mutant: str) -> bool:
        return self.target in ("*", target) and self.operator in ("*", operator) and self.line in line \
            and self.mutant in mutant


@dataclass
class Outcome:
    target: Target
    total: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    killed: int = 0
    survivors: list[tuple[int, str, str, str]] = field(default_factory=list)  # (line, operator, source, diff)
    accepted: list[tuple[int, str, str, str]] = field(default_factory=list)  # (line, operator, source, reason)
    pending: int = 0
    error: str | None = None

    @property
    def score(self) -> float | None:
        tested = self.killed + len(self.survivors) + len(self.accepted)
        return 100.0 * self.killed / tested if tested else None

    @property
    def score_without_accepted(self) -> float | None:
        tested = self.killed + len(self.survivors)
        return 100.0 * self.killed / tested if tested else None


def load_config(root: Path = ROOT) -> tuple[dict[str, Any], list[Target], list[Accepted]]:
    with open(root / "pyproject.toml", "rb") as handle:
        section = tomllib.load(handle)["tool"]["cosmic-ray"]
    targets = [Target(t["name"], t["path"], list(t["tests"]), list(t.get("functions", ())),
                      list(t.get("pytest-args", ()))) for t in section["targets"]]
    accepted = [Accepted(a["target"], a.get("operator", "*"), a.get("line", ""), a.get("mutant", ""), a["reason"])
                for a in section.get("accepted", ())]
    return section, targets, accepted


# ---- filters: mutants that cannot change behaviour, or that are outside the target -----------------

def _spans(tree: ast.AST) -> tuple[list[tuple[int, int, int, int]], dict[str, tuple[int, int]]]:
    """Annotation spans, and the line range of every function by qualified name."""
    annotations: list[tuple[int, int, int, int]] = []
    functions: dict[str, tuple[int, int]] = {}

    def note(node: ast.AST | None) -> None:
        if node is not None:
            annotations.append((node.lineno, node.col_offset, node.end_lineno or node.lineno,
                                node.end_col_offset or 0))

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([d.lineno for d in child.decorator_list] + [child.lineno])
                functions[prefix + child.name] = (first, child.end_lineno or child.lineno)
                note(child.returns)
                for arg in [*child.args.posonlyargs, *child.args.args, *child.args.kwonlyargs,
                            child.args.vararg, child.args.kwarg]:
                    if arg is not None:
                        note(arg.annotation)
                walk(child, prefix + child.name + ".")
            elif isinstance(child, ast.ClassDef):
                walk(child, prefix + child.name + ".")
            else:
                if isinstance(child, ast.AnnAssign):
                    note(child.annotation)
                walk(child, prefix)

    walk(tree, "")
    return annotations, functions


def _inside(span: tuple[int, int, int, int], start: tuple[int, int], end: tuple[int, int]) -> bool:
    return (span[0], span[1]) <= start and end <= (span[2], span[3])


def _is_singleton(node: ast.AST) -> bool:
    """None, or an enum member spelled `Class.MEMBER`: `is` and `==` agree on them."""
    if isinstance(node, ast.Constant) and node.value is None:
        return True
    return isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id[:1].isupper() \
        and node.attr.isupper()


def _identity_against_singleton(tree: ast.AST, start: tuple[int, int], end: tuple[int, int]) -> bool:
    """The innermost comparison holding the mutated operator compares with None or an enum member."""
    holding = [node for node in ast.walk(tree) if isinstance(node, ast.Compare) and _inside(
        (node.lineno, node.col_offset, node.end_lineno or node.lineno, node.end_col_offset or 0), start, end)]
    if not holding:
        return False
    inner = max(holding, key=lambda n: (n.lineno, n.col_offset))
    return any(_is_singleton(n) for n in [inner.left, *inner.comparators])


def skip_reason(target: Target, tree: ast.AST, operator: str, start: tuple[int, int], end: tuple[int, int]) -> str | None:
    annotations, functions = _spans(tree)
    if any(_inside(span, start, end) for span in annotations):
        return "type annotation (never evaluated: from __future__ import annotations)"
    if target.functions:
        ranges = [functions[name] for name in target.functions if name in functions]
        if not any(lo <= start[0] <= hi for lo, hi in ranges):
            return "outside the target's functions"
    if operator in EQUIVALENT_IS and _identity_against_singleton(tree, start, end):
        return "is/== against None or an enum member (same result)"
    return None


# ---- one target ------------------------------------------------------------------------------------

def _test_command(section: dict[str, Any], target: Target) -> list[str]:
    return [sys.executable, "-m", "pytest", "-p", "tests.mutation", *section.get("pytest-args", ()),
            *target.pytest_args, *target.tests]


def pytest_configure(config: Any) -> None:
    """Loaded into each mutant's test run (`-p tests.mutation`): a failing property test fails at
    its first counterexample, without shrinking it (a mutant needs no minimal example)."""
    from hypothesis import Phase, settings

    settings.register_profile("mutation", phases=[Phase.explicit, Phase.reuse, Phase.generate])
    settings.load_profile("mutation")


def _write_config(config: Path, target: Target, command: list[str], timeout: float) -> None:
    config.write_text(
        "[cosmic-ray]\n"
        f"module-path = {_toml(target.path)}\n"
        f"timeout = {timeout:.1f}\n"
        "excluded-modules = []\n"
        f"test-command = {_toml(' '.join(_quote(a) for a in command))}\n"
        "[cosmic-ray.distributor]\nname = \"local\"\n")


def _copy(workdir: Path) -> None:
    if workdir.exists():
        shutil.rmtree(workdir)
    shutil.copytree(ROOT, workdir, ignore=COPY_IGNORE, symlinks=True)
    where = subprocess.run([sys.executable, "-c", "import workflow_core_module as m; print(m.__file__)"], cwd=workdir,
                           capture_output=True, text=True, check=True).stdout.strip()
    if not Path(where).resolve().is_relative_to(workdir.resolve()):
        raise RuntimeError(f"the copy in {workdir} imports {where}, not itself")


def run_target(section: dict[str, Any], target: Target, accepted: list[Accepted], base: Path,
               resume: bool, retest_survivors: bool = False) -> Outcome:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    outcome = Outcome(target)
    workdir = base / target.name
    session = workdir / ".cosmic-ray.sqlite"
    config = workdir / ".cosmic-ray.toml"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    log = base / f"{target.name}.log"
    try:
        if not (resume and session.exists()):
            _copy(workdir)
            began = time.monotonic()
            baseline = subprocess.run(_test_command(section, target), cwd=workdir, env=env, capture_output=True,
                                      text=True)
            if baseline.returncode != 0:
                raise RuntimeError(f"the tests fail without any mutant:\n{baseline.stdout[-3000:]}")
            timeout = max(float(section.get("min-timeout", 30)),
                          float(section.get("timeout-factor", 4)) * (time.monotonic() - began))
            _write_config(config, target, _test_command(section, target), timeout)
            subprocess.run([sys.executable, "-m", "cosmic_ray.cli", "init", str(config), str(session)], cwd=workdir,
                           env=env, check=True, capture_output=True)
            (workdir / ".source.sha256").write_text(_digest(ROOT / target.path))
            source = (workdir / target.path).read_text(encoding="utf-8")
            tree = ast.parse(source)
            with use_db(str(session), WorkDB.Mode.open) as db:
                for item in db.pending_work_items:
                    [mutation] = item.mutations
                    reason = skip_reason(target, tree, mutation.operator_name, tuple(mutation.start_pos),
                                         tuple(mutation.end_pos))
                    if reason:
                        db.set_result(item.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output=reason))
        else:
            # The session's mutants are positions in the module as it was: a changed module needs a
            # new session. An interrupted exec leaves its last mutant in the file: put the original
            # back. The tests and the test command are taken afresh (new tests kill what survived).
            if (workdir / ".source.sha256").read_text() != _digest(ROOT / target.path):
                raise RuntimeError(f"{target.path} changed since this session began: run it again without --resume")
            shutil.copyfile(ROOT / target.path, workdir / target.path)
            shutil.rmtree(workdir / "tests")
            shutil.copytree(ROOT / "tests", workdir / "tests", ignore=COPY_IGNORE)
            with open(config, "rb") as handle:
                timeout = float(tomllib.load(handle)["cosmic-ray"]["timeout"])
            _write_config(config, target, _test_command(section, target), timeout)
            if retest_survivors:
                _forget_survivors(session)
        with open(log, "ab") as out:
            subprocess.run([sys.executable, "-m", "cosmic_ray.cli", "exec", str(config), str(session)], cwd=workdir,
                           env=env, check=True, stdout=out, stderr=subprocess.STDOUT)
        _collect(outcome, workdir, session, accepted)
    except Exception as exc:  # report it with the others
        outcome.error = f"{type(exc).__name__}: {exc}"
    return outcome


def _digest(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _forget_survivors(session: Path) -> None:
    """Make the survivors pending again, so that `exec` tests them with the current tests."""
    import sqlite3

    with sqlite3.connect(session) as db:
        db.execute("DELETE FROM work_results WHERE test_outcome = 'SURVIVED'")


def _collect(outcome: Outcome, workdir: Path, session: Path, accepted: list[Accepted]) -> None:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    lines = (workdir / outcome.target.path).read_text(encoding="utf-8").splitlines()
    with use_db(str(session), WorkDB.Mode.open) as db:
        outcome.total = db.num_work_items
        outcome.pending = len(db.pending_work_items)
        for item, result in db.completed_work_items:
            [mutation] = item.mutations
            row = mutation.start_pos[0]
            text = lines[row - 1].strip() if 0 < row <= len(lines) else ""
            if result.worker_outcome is WorkerOutcome.SKIPPED:
                key = result.output or "skipped"
                outcome.skipped[key] = outcome.skipped.get(key, 0) + 1
            elif result.test_outcome is TestOutcome.SURVIVED:
                changed = [d for d in (result.diff or "").splitlines()
                           if d[:1] in "+-" and not d.startswith(("+++", "---"))]
                mutant = " ".join(d[1:].strip() for d in changed if d.startswith("+"))
                reason = next((a.reason for a in accepted
                               if a.matches(outcome.target.name, mutation.operator_name, text, mutant)), None)
                if reason is not None:
                    outcome.accepted.append((row, mutation.operator_name, f"{text}  ->  {mutant}", reason))
                else:
                    outcome.survivors.append((row, mutation.operator_name, text, "\n".join(changed)))
            else:  # killed, timed out, or the mutant could not even be imported
                outcome.killed += 1
    outcome.survivors.sort()
    outcome.accepted.sort()


def _toml(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


def report(outcomes: list[Outcome]) -> str:
    out = ["", "mutation score per target (killed / (killed + survived); skipped: cannot change behaviour)", ""]
    for o in outcomes:
        if o.error:
            out.append(f"{o.target.name:28} ERROR {o.error}")
            continue
        score = "n/a" if o.score is None else f"{o.score:5.1f} %"
        strict = "n/a" if o.score_without_accepted is None else f"{o.score_without_accepted:5.1f} %"
        out.append(f"{o.target.name:28} {score}  ({strict} not counting {len(o.accepted)} accepted equivalent)  "
                   f"mutants {o.total}, killed {o.killed}, survived {len(o.survivors) + len(o.accepted)}, "
                   f"skipped {sum(o.skipped.values())}" + (f", PENDING {o.pending}" if o.pending else ""))
    for o in outcomes:
        if o.error:
            continue
        if o.survivors:
            out += ["", f"survivors in {o.target.path} ({o.target.name}):"]
            for row, operator, text, diff in o.survivors:
                out.append(f"  line {row}: {operator.removeprefix('core/')}: {text}")
                out += [f"      {d}" for d in diff.splitlines()]
        if o.accepted:
            out += ["", f"accepted (equivalent) survivors in {o.target.path}:"]
            for row, operator, text, reason in o.accepted:
                out.append(f"  line {row}: {operator.removeprefix('core/')}: {text}\n      why: {reason}")
        if o.skipped:
            out.append(f"  skipped in {o.target.name}: " + "; ".join(f"{n} {k}" for k, n in sorted(o.skipped.items())))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", help="target names (default: all in pyproject.toml)")
    parser.add_argument("--jobs", "-j", type=int, default=1, help="targets run at once, each in its own copy")
    parser.add_argument("--workdir", type=Path, default=Path(os.environ.get("MUTATE_DIR", "/tmp/wcm-mutate")))
    parser.add_argument("--resume", action="store_true", help="go on with the sessions in WORKDIR")
    parser.add_argument("--retest-survivors", action="store_true",
                        help="with --resume: test the survivors again (after adding tests)")
    parser.add_argument("--fail-under", type=float, default=None, help="exit 1 if a target scores below this")
    parser.add_argument("--list", action="store_true", help="list the targets and exit")
    parser.add_argument("--report", action="store_true", help="only report the sessions in WORKDIR (no run)")
    args = parser.parse_args(argv)
    section, targets, accepted = load_config()
    if args.list:
        for t in targets:
            print(f"{t.name:28} {t.path}  tests: {' '.join(t.tests)}")
        return 0
    chosen = [t for t in targets if not args.targets or t.name in args.targets]
    unknown = set(args.targets) - {t.name for t in targets}
    if unknown:
        parser.error(f"unknown target(s) {sorted(unknown)}; known: {[t.name for t in targets]}")
    if args.report:
        outcomes = []
        for target in chosen:
            outcome = Outcome(target)
            session = args.workdir / target.name / ".cosmic-ray.sqlite"
            if session.exists():
                _collect(outcome, args.workdir / target.name, session, accepted)
            else:
                outcome.error = f"no session in {session.parent}"
            outcomes.append(outcome)
        print(report(outcomes))
        return 0
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"mutation testing {len(chosen)} target(s) in {args.workdir} (logs: <target>.log there)", flush=True)
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        outcomes = list(pool.map(lambda t: run_target(section, t, accepted, args.workdir, args.resume,
                                                      args.retest_survivors), chosen))
    print(report(outcomes))
    if any(o.error for o in outcomes):
        return 2
    if args.fail_under is not None and any((o.score or 0) < args.fail_under for o in outcomes):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
