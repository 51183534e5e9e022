"""Start-up and the key CLI fail in one line: a taken port, a database folder that cannot be
written, a key name in use. Real `python -m workflow_core_module ...` processes."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from .processes import ROOT, ServeProcess, free_port, wait_until


def _cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "workflow_core_module", *args], cwd=cwd, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **env}, capture_output=True, timeout=60)


def _serve_until_exit(env: dict[str, str], cwd: Path, port: int | None = None) -> tuple[int, list[str]]:
    """Start serve, wait for it to exit by itself: (exit code, non-empty output lines)."""
    server = ServeProcess(env, cwd=cwd, port=port)
    try:
        server.process.wait(30)
    finally:
        code = server.stop()
    return code, [line for line in server.logs().splitlines() if line.strip()]


def _rows(db_file: Path, table: str) -> int:
    with sqlite3.connect(db_file) as conn:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)).fetchone():
            return 0
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def test_a_taken_port_stops_start_up_in_one_line_before_anything_is_written(tmp_path: Path) -> None:
    db_file = tmp_path / "storage" / "wcm.sqlite"
    with socket.socket() as holder:  # someone else serves on the port
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        code, lines = _serve_until_exit({"DATABASE_URL": f"sqlite://{db_file}"}, tmp_path, port)

    assert code == 2, lines
    assert lines == [f"error: cannot listen on 127.0.0.1:{port}: address already in use (set PORT or HOST)"]
    # bound before migrations, the admin key and the loop: no key printed, no file, so no key and no replica
    assert not any("Admin API key" in line for line in lines)
    assert not db_file.exists(), "start-up touched the database before binding the port"


def test_a_taken_port_leaves_an_existing_database_alone(tmp_path: Path) -> None:
    """The second replica on one host (same database, same port): no phantom replica, no new key."""
    db_file = tmp_path / "wcm.sqlite"
    env = {"DATABASE_URL": f"sqlite://{db_file}"}
    with ServeProcess(env, cwd=tmp_path) as first:
        wait_until(lambda: _rows(db_file, "scheduler_replicas") == 1, what="the first replica's row")
        keys, audit = _rows(db_file, "api_keys"), _rows(db_file, "audit_log")
        code, lines = _serve_until_exit(env, tmp_path, first.port)
        assert code == 2, lines
        assert len(lines) == 1 and lines[0].startswith(f"error: cannot listen on 127.0.0.1:{first.port}: "), lines
        assert _rows(db_file, "scheduler_replicas") == 1
        assert (_rows(db_file, "api_keys"), _rows(db_file, "audit_log")) == (keys, audit)
    assert first.process.returncode == 0, first.logs()


def test_a_free_port_is_served_from_the_socket_bound_at_start(tmp_path: Path) -> None:
    port = free_port()
    with ServeProcess({"DATABASE_URL": f"sqlite://{tmp_path}/db.sqlite", "ADMIN_API_KEY": "k"},
                      cwd=tmp_path, port=port) as server:
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        with socket.socket() as other:  # and it holds the port while it serves
            other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            with pytest.raises(OSError):
                other.bind(("127.0.0.1", port))
    assert server.process.returncode == 0, server.logs()


def test_a_database_folder_that_cannot_be_created_stops_start_up_in_one_line(tmp_path: Path) -> None:
    """Root ignores permission bits, so the folder sits under a regular file: no one can create it."""
    blocker = tmp_path / "data"
    blocker.write_text("a file, not a folder\n")
    code, lines = _serve_until_exit({"DATABASE_URL": f"sqlite://{blocker}/sub/wcm.sqlite"}, tmp_path)
    assert code == 2, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: cannot write the database folder {blocker}/sub ("), lines
    assert lines[0].endswith(f"give uid {os.geteuid()} write access or set DATABASE_URL"), lines
    assert blocker.read_text() == "a file, not a folder\n"


def test_a_read_only_database_folder_stops_start_up_in_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o500)
    try:
        if os.access(data, os.W_OK):
            pytest.skip("this user (root with CAP_DAC_OVERRIDE) writes into a folder whatever its mode; "
                        "the test above covers it with a folder under a file")
        code, lines = _serve_until_exit({"DATABASE_URL": f"sqlite://{data}/wcm.sqlite"}, tmp_path)
    finally:
        data.chmod(0o700)
    assert code == 2, lines
    assert lines == [f"error: cannot write the database folder {data} (permission denied): "
                     f"give uid {os.geteuid()} write access or set DATABASE_URL"]


def test_keys_create_with_a_name_in_use_says_so_in_one_line(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite://{tmp_path}/db.sqlite"}
    first = _cli("keys", "create", "--name", "me", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[-1].startswith("wcm_")

    again = _cli("keys", "create", "--name", "me", env=env, cwd=tmp_path)
    assert again.returncode != 0
    assert again.stdout == ""  # nothing a `KEY=$(... | tail -n 1)` could mistake for a key
    assert again.stderr.splitlines() == ["error: an API key named 'me' already exists"]


@pytest.mark.parametrize("args, message", [
    (["keys", "create", "--name", "x", "--community", "c" * 101], "error: a community id has 1-100 characters"),
    (["keys", "create", "--name", "bad name"], "error: name: 1-100 letters, digits or _ . : @ -"),
    (["keys", "revoke", "nobody"], "error: active API key 'nobody' not found"),
])
def test_other_key_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    done = _cli(*args, env={"DATABASE_URL": f"sqlite://{tmp_path}/db.sqlite"}, cwd=tmp_path)
    assert done.returncode != 0
    assert done.stdout == ""
    assert done.stderr.splitlines()[-1:] == [message], done.stderr
    # only the migrations' log lines may come before it
    assert all(" migration up " in line for line in done.stderr.splitlines()[:-1]), done.stderr


def test_keys_with_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    done = _cli("keys", "list", env={"DATABASE_URL": f"postgres://postgres@127.0.0.1:{port}/none"}, cwd=tmp_path)
    assert done.returncode != 0
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot open the database postgres://"), done.stderr
    assert f"127.0.0.1:{port}" in lines[0]


def test_keys_create_on_postgres_with_a_name_longer_than_its_audit_column_is_one_line(
        postgres_url: str, tmp_path: Path) -> None:
    done = _cli("keys", "create", "--name", "n" * 100, env={"DATABASE_URL": postgres_url}, cwd=tmp_path)
    assert done.stdout == ""
    assert done.returncode != 0
    last = done.stderr.splitlines()[-1]
    assert last.startswith("error: "), done.stderr
    assert "Traceback" not in done.stderr, done.stderr


def test_a_bad_outbound_allowlist_entry_stops_start_up_in_one_line_naming_the_setting(tmp_path: Path) -> None:
    db_file = tmp_path / "storage" / "wcm.sqlite"
    code, lines = _serve_until_exit({"DATABASE_URL": f"sqlite://{db_file}", "OUTBOUND_ALLOWLIST": "10.0.0.0/33"},
                                    tmp_path)
    assert code == 2, lines
    assert len(lines) == 1 and lines[0].startswith("error: invalid setting OUTBOUND_ALLOWLIST: "), lines
    assert "'10.0.0.0/33' is not a valid address or CIDR" in lines[0]
    assert not db_file.exists()
