"""The async facade over pyDAL.

pyDAL is synchronous and keeps one connection per thread. Every database call goes through
:class:`Database`, which runs it on a thread of its own:

* one writer thread runs units of work (``write``). Each unit commits or rolls back as a
  whole. When several are waiting, they share one transaction (group commit), each inside a
  savepoint, so one failing unit never takes the others down;
* a few reader threads run read-only functions (``read``).

Nothing here runs pyDAL on the event loop. SQLite runs in WAL mode, so readers never wait for
the writer.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydal import DAL

from .tables import define_tables

log = logging.getLogger(__name__)

T = TypeVar("T")

_MAX_GROUP = 256  # units of work per shared transaction


@dataclass(frozen=True, slots=True)
class Dialect:
    """What raw SQL needs to know about the engine."""

    name: str  # "sqlite" | "postgres"
    placeholder: str  # DB-API paramstyle marker
    true: Any  # how a stored boolean true is written in a parameter
    false: Any

    def params(self, sql: str) -> str:
        """`sql` written with `?` markers, in this driver's paramstyle."""
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)

    def ts(self, value: datetime | None) -> Any:
        """A timestamp parameter: naive UTC, whole seconds (text on SQLite, as pyDAL stores it)."""
        return None if value is None else _timestamp(value, self.name == "sqlite")

    def exact(self, value: datetime) -> Any:
        """A timestamp read from a row, as a parameter equal to what is stored, fraction included
        (a row written by something else than this service may hold one)."""
        naive = value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value
        return naive.isoformat(" ") if self.name == "sqlite" else naive


@lru_cache(maxsize=4096)
def _timestamp(value: datetime, as_text: bool) -> Any:
    """Memoised: a burst writes the same few instants (now, the due time) thousands of times."""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    value = value.replace(microsecond=0)
    return value.isoformat(" ") if as_text else value


SQLITE = Dialect("sqlite", "?", "T", "F")
WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024
POSTGRES = Dialect("postgres", "%s", True, False)


def pydal_uri(database_url: str) -> tuple[str, Dialect, str | None]:
    """(pyDAL URI, dialect, SQLite file path) for a DATABASE_URL setting."""
    if database_url.startswith("sqlite://"):
        path = os.path.abspath(database_url[len("sqlite://"):])
        return "sqlite://" + path, SQLITE, path
    scheme, rest = database_url.split("://", 1)
    if not scheme.startswith("postgres"):
        raise ValueError(f"unsupported database URL scheme {scheme!r}")
    # Native BOOLEAN columns and JSON parsing: pyDAL's "postgres3" adapter on psycopg2.
    return "postgres3:psycopg2://" + rest, POSTGRES, None


def describe_url(database_url: str) -> str:
    """The URL without its password, for logs."""
    if database_url.startswith("sqlite://"):
        return database_url
    parts = urlsplit(database_url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    user = f"{parts.username}@" if parts.username else ""
    return f"{parts.scheme}://{user}{host}{port}{parts.path}"


class _Job:
    __slots__ = ("fn", "args", "future", "loop")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], future: asyncio.Future[Any],
                 loop: asyncio.AbstractEventLoop) -> None:
        self.fn = fn
        self.args = args
        self.future = future
        self.loop = loop

    def deliver(self, result: Any = None, error: BaseException | None = None) -> None:
        try:
            self.loop.call_soon_threadsafe(_settle, self.future, result, error)
        except RuntimeError:
            pass  # the caller's event loop is gone: nobody is waiting for this result


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


_STOP = object()


def is_transient(exc: BaseException) -> bool:
    """A database error that may go away by itself: a lost or refused connection, a busy SQLite."""
    name, module = type(exc).__name__, type(exc).__module__
    if module.startswith("psycopg2"):
        # DeadlockDetected: two replicas' journal batches can lock schedule rows in opposite
        # orders (one ends A's run and locks A's after schedule B, the other ends B's run and
        # locks B's after schedule C...); PostgreSQL rolls one back, and it goes through again.
        return name in ("OperationalError", "InterfaceError", "AdminShutdown", "SerializationFailure",
                        "DeadlockDetected")
    if name == "OperationalError":  # sqlite3
        text = str(exc).lower()
        return "locked" in text or "busy" in text
    return isinstance(exc, ConnectionError)


def cursor(dal: DAL) -> Any:
    """A DB-API cursor on this thread's connection (opened if the thread has none yet), for
    the few hot paths that run raw SQL."""
    return dal._adapter.connection.cursor()


def _owner_only(path: str) -> None:
    """Create the SQLite file readable by its owner only (0600), and tighten one made earlier.
    SQLite gives its -wal and -shm files the mode of the database file."""
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        os.makedirs(folder, mode=0o700, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    for name in (path, path + "-wal", path + "-shm", path + "-journal"):
        if os.path.exists(name) and os.stat(name).st_mode & 0o077:
            os.chmod(name, 0o600)


def _open_dal(_: Any, database: Database) -> None:
    """Runs on the writer thread: create the DAL (which connects) and define the tables."""
    if database.sqlite_path is not None:
        _owner_only(database.sqlite_path)
    dal = DAL(
        database.uri,
        folder=os.path.dirname(database.sqlite_path) if database.sqlite_path else None,
        pool_size=0,
        migrate=False,
        migrate_enabled=False,
        fake_migrate_all=False,
        check_reserved=None,
        attempts=1,
        after_connection=database._after_connection,
        driver_args={} if database.sqlite_path else {"connect_timeout": 5},
    )
    define_tables(dal)
    database._dal = dal


class Database:
    """Async access to one database through pyDAL on dedicated threads."""

    def __init__(self, database_url: str, *, reader_threads: int = 3) -> None:
        self.url = database_url
        self.uri, self.dialect, self.sqlite_path = pydal_uri(database_url)
        self._reader_count = reader_threads
        self._dal: DAL | None = None
        self._write_queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._read_queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._closed = False

    @classmethod
    async def connect(cls, database_url: str, *, reader_threads: int = 3) -> Database:
        """Open the database: the first connection is made on the writer thread."""
        database = cls(database_url, reader_threads=reader_threads)
        writer = threading.Thread(target=database._writer_main, name="db-writer", daemon=True)
        database._threads.append(writer)
        writer.start()
        try:
            await database._submit(database._write_queue, _open_dal, (database,))
        except BaseException:
            database._closed = True
            database._write_queue.put(_STOP)
            raise
        for i in range(reader_threads):
            reader = threading.Thread(target=database._reader_main, name=f"db-reader-{i}", daemon=True)
            database._threads.append(reader)
            reader.start()
        return database

    @property
    def dal(self) -> DAL:
        if self._dal is None:
            raise RuntimeError("database is not open")
        return self._dal

    @property
    def is_sqlite(self) -> bool:
        return self.dialect is SQLITE

    def _after_connection(self, adapter: Any) -> None:
        if self.is_sqlite:
            # WAL: readers never block the writer; busy_timeout: other processes on one file
            # wait for the write lock instead of failing at once.
            adapter.execute("PRAGMA journal_mode=WAL;")
            adapter.execute("PRAGMA busy_timeout=10000;")
            adapter.execute("PRAGMA synchronous=FULL;")
            # After a checkpoint the WAL shrinks back to this size instead of staying at its
            # high-water mark (a burst can grow it to hundreds of MB).
            adapter.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT_BYTES};")

    # ---- the public, async surface ----------------------------------------------------

    async def checkpoint(self) -> int | None:
        """SQLite: copy the WAL into the database and truncate it to zero bytes, on a connection
        of its own (the writer's is inside a transaction). Meant for idle moments: with readers
        or a writer active it does what it can and says busy. Returns the WAL's pages, or None
        on PostgreSQL or when busy."""
        path = self.sqlite_path
        if path is None:
            return None

        def run() -> int | None:
            connection = sqlite3.connect(path, timeout=1.0)
            try:
                busy, wal_pages, _ = connection.execute("PRAGMA wal_checkpoint(TRUNCATE);").fetchone()
            finally:
                connection.close()
            return None if busy else int(wal_pages)

        return await asyncio.to_thread(run)

    async def ping(self) -> None:
        """A round trip to the database on a reader thread (raises when it is unreachable)."""
        await self.read(lambda dal: dal.executesql("SELECT 1"))

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(dal, *args)`` on a reader thread; nothing it does is committed."""
        return await self._submit(self._read_queue, fn, args)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(dal, *args)`` as one unit of work: committed if it returns, rolled back if
        it raises (the exception propagates). `fn` must only touch the database: when it
        shares a transaction with other units it may be retried alone after a failed commit.
        """
        return await self._submit(self._write_queue, fn, args)

    async def close(self) -> None:
        """Stop the threads, closing each thread's connection."""
        if self._closed:
            return
        self._closed = True
        self._write_queue.put(_STOP)
        for _ in range(len(self._threads) - 1):
            self._read_queue.put(_STOP)
        await asyncio.get_running_loop().run_in_executor(None, self._join)

    def _join(self) -> None:
        for thread in self._threads:
            thread.join(timeout=30)

    async def _submit(self, q: queue.SimpleQueue[Any], fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        if self._closed:
            raise RuntimeError("database is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        q.put(_Job(fn, args, future, loop))
        return await future

    # ---- thread side ------------------------------------------------------------------

    def _reader_main(self) -> None:
        while (job := self._read_queue.get()) is not _STOP:
            try:
                result = self._read_once(job)
            except BaseException as exc:
                if not is_transient(exc):
                    job.deliver(error=exc)
                    continue
                # The connection died under us (a database restart, a failover): reads are safe
                # to repeat, so try once more on a fresh connection.
                self._close_connection()
                try:
                    result = self._read_once(job)
                except BaseException as again:
                    job.deliver(error=again)
                    continue
            job.deliver(result)
        self._close_connection()

    def _read_once(self, job: _Job) -> Any:
        try:
            result = job.fn(self._dal, *job.args)
        finally:
            # End the implicit transaction a driver may have opened (PostgreSQL).
            self._end_transaction(rollback=True)
        return result

    def _writer_main(self) -> None:
        while (job := self._write_queue.get()) is not _STOP:
            if job.fn is _open_dal:  # always alone: connect() awaits it before any other work
                self._run_open(job)
                continue
            batch = [job]
            stop = False
            while len(batch) < _MAX_GROUP:
                try:
                    nxt = self._write_queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop = True
                    break
                batch.append(nxt)
            if len(batch) == 1:
                self._run_alone(job)
            else:
                self._run_group(batch)
            if stop:
                break
        self._close_connection()

    def _begin(self) -> None:
        if self.is_sqlite:
            # Take the write lock now, so what the unit reads is what it writes against.
            self.dal.executesql("BEGIN IMMEDIATE;")

    def _run_open(self, job: _Job) -> None:
        try:
            job.fn(None, *job.args)
        except BaseException as exc:
            job.deliver(error=exc)
        else:
            job.deliver(None)

    def _run_alone(self, job: _Job) -> None:
        try:
            self._begin()
            result = job.fn(self.dal, *job.args)
            self.dal.commit()
        except BaseException as exc:
            self._end_transaction(rollback=True)
            job.deliver(error=exc)
        else:
            job.deliver(result)

    def _run_group(self, batch: list[_Job]) -> None:
        outcomes: list[tuple[Any, BaseException | None]] = []
        try:
            self._begin()
            for index, job in enumerate(batch):
                savepoint = f"unit_{index}"
                self.dal.executesql(f"SAVEPOINT {savepoint};")
                try:
                    result = job.fn(self.dal, *job.args)
                except Exception as exc:
                    self.dal.executesql(f"ROLLBACK TO SAVEPOINT {savepoint};")
                    self.dal.executesql(f"RELEASE SAVEPOINT {savepoint};")
                    outcomes.append((None, exc))
                else:
                    self.dal.executesql(f"RELEASE SAVEPOINT {savepoint};")
                    outcomes.append((result, None))
            self.dal.commit()
        except BaseException:
            # The shared transaction failed (lost connection, failed commit): run each unit
            # alone so each caller gets its own outcome.
            self._end_transaction(rollback=True)
            for job in batch:
                self._run_alone(job)
            return
        for job, (result, error) in zip(batch, outcomes, strict=True):
            job.deliver(result, error)

    def _end_transaction(self, *, rollback: bool) -> None:
        adapter = self.dal._adapter
        try:
            if rollback:
                adapter.rollback()
            else:
                adapter.commit()
        except Exception:
            log.debug("dropping a database connection after a failed %s", "rollback" if rollback else "commit")
            self._close_connection()
            return
        if not self.is_sqlite and getattr(adapter.connection, "closed", False):
            self._close_connection()

    def _close_connection(self) -> None:
        if self._dal is None:
            return
        try:
            self.dal._adapter.close(action=None, really=True)
        except Exception:
            log.debug("closing a database connection failed", exc_info=True)
