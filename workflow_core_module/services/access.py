"""Who is calling: a presented API key resolved to a principal.

`ADMIN_API_KEY` from the environment is a global key named "admin". `ROUTER_SERVICE_KEY` is the
key WaddleBot's router sends to every module for every community: it is good for the router's
two endpoints only (see :data:`ROUTER_ROUTES`), never for the rest of the API. Keys stored in
the database are looked up by their hash; lookups are remembered for a few seconds, so a
revoked key stops working within that time on every replica.
"""

from __future__ import annotations

import re
import time

from ..clock import Clock
from ..db.key_store import ADMIN_KEY_NAME, KeyStore, hash_key, same_hash
from ..scheduling.records import Principal

CACHE_SECONDS = 5.0
_MAX_KEY_CHARS = 256
ROUTER_KEY_NAME = "router"
# (method, path pattern) the router's key is accepted on: its command hop and its workflow trigger.
ROUTER_ROUTES = (("POST", re.compile(r"^/api/v1/execute$")),
                 ("POST", re.compile(r"^/api/v1/workflows/[^/]+/execute$")))



def router_route(method: str, path: str) -> bool:
    return any(method == m and pattern.match(path) for m, pattern in ROUTER_ROUTES)


class Authenticator:
    def __init__(self, keys: KeyStore, clock: Clock, admin_key: str = "", router_key: str = "") -> None:
        self.keys = keys
        self.clock = clock
        self._admin_hash = hash_key(admin_key) if admin_key else None
        self._router_hash = hash_key(router_key) if router_key else None
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._touched: dict[str, float] = {}

    def is_router(self, presented: str | None) -> bool:
        """Whether `presented` is ROUTER_SERVICE_KEY (compared in constant time)."""
        if not presented or self._router_hash is None or len(presented) > _MAX_KEY_CHARS:
            return False
        return same_hash(hash_key(presented), self._router_hash)

    async def principal_for(self, presented: str | None, method: str, path: str) -> Principal | None:
        """The caller on this route: the router's key counts on the router's routes only."""
        if self.is_router(presented):
            return Principal(ROUTER_KEY_NAME, None) if router_route(method, path) else None
        return await self.principal(presented)

    async def principal(self, presented: str | None) -> Principal | None:
        """The caller behind a presented key, or None."""
        if not presented or len(presented) > _MAX_KEY_CHARS:
            return None
        digest = hash_key(presented)
        if self._admin_hash is not None and same_hash(digest, self._admin_hash):
            return Principal(ADMIN_KEY_NAME, None)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = await self.keys.find(presented)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (now + CACHE_SECONDS, found)
        if found is not None and now - self._touched.get(found.name, 0.0) > 60:
            self._touched[found.name] = now
            await self.keys.touch(found.name, self.clock.now())
        return found
