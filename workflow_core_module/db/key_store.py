"""API keys: stored as SHA-256 hashes only, looked up by hash, compared in constant time.

A key with no community is global (acts for every community); a community key acts only within
its own community.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from pydal import DAL

from ..errors import Conflict, Invalid, NotFound
from ..scheduling import as_utc
from ..scheduling.records import Principal
from .audit import AuditEntry, AuditLog
from .database import Database
from .schedule_store import is_integrity_error
from .sql import TableCodec

ADMIN_KEY_NAME = "admin"
_NAME = re.compile(r"^[A-Za-z0-9_.:@-]{1,100}$")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def new_key() -> str:
    return "wcm_" + secrets.token_urlsafe(32)


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


@dataclass(frozen=True, slots=True)
class ApiKey:
    name: str
    key_prefix: str
    community_id: str | None
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class KeyStore:
    def __init__(self, database: Database) -> None:
        self.database = database
        self.dialect = database.dialect
        self.codec = TableCodec(database.dal, "api_keys", database.dialect)
        self.audit = AuditLog(database)

    @staticmethod
    def check_name(name: str) -> str:
        if not isinstance(name, str) or not _NAME.match(name):
            raise Invalid({"name": "1-100 letters, digits or _ . : @ -"})
        return name

    async def create(self, name: str, community_id: str | None, now: datetime, *,
                     actor: str = "cli", key: str | None = None) -> tuple[ApiKey, str]:
        """Store a new key; returns it and the plain key (shown once, never stored)."""
        self.check_name(name)
        plain = key or new_key()
        values = {"name": name, "key_hash": hash_key(plain), "key_prefix": plain[:8], "community_id": community_id,
                  "created_at": now}

        def run(dal: DAL) -> ApiKey:
            try:
                self.codec.insert(dal, values)
            except Exception as exc:
                if is_integrity_error(exc):
                    raise Conflict(f"an API key named {name!r} already exists") from None
                raise
            self.audit.write(dal, AuditEntry(actor, "key.create", now), "api_key", name, community_id,
                             {"community_id": community_id})
            return ApiKey(name, plain[:8], community_id, as_utc(now), None, None)

        return await self.database.write(run), plain

    async def ensure_admin(self, now: datetime) -> str | None:
        """The first start's global key: created (and returned, once) when none exists yet."""
        try:
            _, plain = await self.create(ADMIN_KEY_NAME, None, now, actor="system")
        except Conflict:
            return None
        return plain

    async def list(self) -> list[ApiKey]:
        def run(dal: DAL) -> list[ApiKey]:
            rows = self.codec.select(dal, "1 = 1", (), "ORDER BY name")
            return [ApiKey(r["name"], r["key_prefix"], r["community_id"], as_utc(r["created_at"]),
                           as_utc(r["revoked_at"]) if r["revoked_at"] else None,
                           as_utc(r["last_used_at"]) if r["last_used_at"] else None) for r in rows]

        return await self.database.read(run)

    async def revoke(self, name: str, now: datetime, *, actor: str = "cli") -> None:
        def run(dal: DAL) -> None:
            if not self.codec.update(dal, {"revoked_at": now}, "name = ? AND revoked_at IS NULL", [name]):
                raise NotFound("active API key", name)
            self.audit.write(dal, AuditEntry(actor, "key.revoke", now), "api_key", name, None, {})

        await self.database.write(run)

    async def find(self, key: str) -> Principal | None:
        """The principal of a presented key, or None (unknown or revoked)."""
        digest = hash_key(key)
        sql = self.dialect.params(
            "SELECT name, key_hash, community_id FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL")

        def run(dal: DAL) -> Principal | None:
            rows = dal.executesql(sql, placeholders=[digest])
            if not rows or not same_hash(rows[0][1], digest):
                return None
            return Principal(rows[0][0], rows[0][2])

        return await self.database.read(run)

    async def touch(self, name: str, now: datetime) -> None:
        await self.database.write(lambda dal: self.codec.update(dal, {"last_used_at": now}, "name = ?", [name]))
