"""Parameterised SQL over the pyDAL connection, with rows coded from the pyDAL table definition.

pyDAL's query builder costs about 300 µs per row read or written (building the statement and
parsing each column), twenty times the statement itself on SQLite. The store's statements are
therefore written as SQL with `?` markers and run through ``DAL.executesql``, on the same
connections and threads; :class:`TableCodec` turns rows into dicts and back using the column
types pyDAL knows, so the table definition stays the one description of the schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from enum import Enum
from typing import Any

from pydal import DAL

from .database import Dialect


def quote(name: str) -> str:
    return f'"{name}"'


class TableCodec:
    """Column lists and value coding for one table."""

    def __init__(self, dal: DAL, table: str, dialect: Dialect) -> None:
        definition = dal[table]
        self.table = table
        self.dialect = dialect
        self.columns: tuple[str, ...] = tuple(definition.fields)
        self.types = {name: definition[name].type for name in self.columns}
        self.select_list = ", ".join(map(quote, self.columns))
        self._booleans = frozenset(c for c, t in self.types.items() if t == "boolean")
        self._jsons = frozenset(c for c, t in self.types.items() if t == "json")
        self._datetimes = frozenset(c for c, t in self.types.items() if t == "datetime")
        self._encoders = {name: self._encoder(name) for name in self.columns}

    # ---- reading --------------------------------------------------------------------------

    def decode(self, row: Sequence[Any], columns: Sequence[str] | None = None) -> dict[str, Any]:
        """A row (in `columns` order, default all) as a dict of Python values."""
        out: dict[str, Any] = {}
        for name, value in zip(columns or self.columns, row, strict=True):
            if value is not None:
                if name in self._booleans:
                    value = value is True or value == "T" or value == 1
                elif name in self._jsons and isinstance(value, (str, bytes)):
                    value = json.loads(value)
                elif name in self._datetimes and isinstance(value, str):
                    value = datetime.fromisoformat(value)
            out[name] = value
        return out

    # ---- writing --------------------------------------------------------------------------

    def param(self, name: str, value: Any) -> Any:
        """One Python value as the driver parameter for column `name`."""
        if value is None:
            return None
        return self._encoders[name](value)

    def _encoder(self, name: str) -> Any:
        if name in self._booleans:
            true, false = self.dialect.true, self.dialect.false
            return lambda value: true if value else false
        if name in self._jsons:
            return lambda value: json.dumps(list(value) if isinstance(value, tuple) else value, default=_json_default)
        if name in self._datetimes:
            ts = self.dialect.ts
            return lambda value: ts(value)
        return _plain

    def insert_sql(self, names: Iterable[str]) -> str:
        cols = list(names)
        marks = ", ".join("?" for _ in cols)
        return self.dialect.params(f"INSERT INTO {self.table} ({', '.join(map(quote, cols))}) VALUES ({marks})")

    def insert(self, dal: DAL, values: Mapping[str, Any]) -> int:
        """Insert one row; returns its id."""
        names = [n for n in values if n != "id"]
        sql = self.insert_sql(names) + " RETURNING id"
        return int(dal.executesql(sql, placeholders=[self.param(n, values[n]) for n in names])[0][0])

    def set_clause(self, values: Mapping[str, Any]) -> tuple[str, list[Any]]:
        names = list(values)
        return ", ".join(f"{quote(n)} = ?" for n in names), [self.param(n, values[n]) for n in names]

    def select(self, dal: DAL, where: str, params: Sequence[Any] = (), suffix: str = "") -> list[dict[str, Any]]:
        sql = self.dialect.params(f"SELECT {self.select_list} FROM {self.table} WHERE {where} {suffix}")
        return [self.decode(row) for row in dal.executesql(sql, placeholders=list(params))]

    def update(self, dal: DAL, values: Mapping[str, Any], where: str, params: Sequence[Any] = ()) -> int:
        clause, set_params = self.set_clause(values)
        cur = dal._adapter.connection.cursor()
        cur.execute(self.dialect.params(f"UPDATE {self.table} SET {clause} WHERE {where}"), [*set_params, *params])
        return int(cur.rowcount)


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "value"):
        return value.value
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def count(dal: DAL, dialect: Dialect, sql: str, params: Sequence[Any] = ()) -> int:
    return int(dal.executesql(dialect.params(sql), placeholders=list(params))[0][0])


def like_pattern(text: str) -> str:
    """`text` as a LIKE pattern matching it anywhere, with wildcards taken literally (ESCAPE '!')."""
    escaped = text.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"%{escaped}%"


def unnest(types: Sequence[str], rows: Sequence[Sequence[Any]]) -> tuple[str, list[list[Any]]]:
    """PostgreSQL: rows as one array parameter per column, for set-based statements.

    Returns (``unnest(%s::t1[], %s::t2[], ...)``, the column lists). psycopg2 adapts whole
    lists at once, far cheaper than a VALUES list of rows mogrified one by one.
    """
    columns = [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in types]
    return "unnest(" + ", ".join(f"%s::{t}[]" for t in types) + ")", columns
