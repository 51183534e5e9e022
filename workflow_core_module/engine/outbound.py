"""The outbound policy for every URL a user writes (http_request steps, callback_url, webhooks).

Users are not trusted, so a URL they write must never reach this machine or its network:

* **Write time** (:meth:`OutboundPolicy.check_url`, pure): only http(s), no credentials, a host.
  A host that *is* an address, in any spelling a resolver or HTTP client accepts (``2130706433``,
  ``0x7f.1``, ``0177.0.0.1``, ``127.1``, ``[::ffff:7f00:1]``, ``[fe80::1%25eth0]``, percent-encoded,
  full-width digits), must be globally routable: loopback, private, link-local, carrier-grade NAT,
  multicast, reserved, documentation/benchmark, site-local and IPv4 embedded in IPv6 (mapped,
  compatible, NAT64, 6to4) are refused. ``localhost`` and ``*.localhost`` are refused by name.
  Other names pass: what they point to is known only at run time.
* **Run time** (:class:`GuardedTransport`): each new connection resolves the host once, refuses if
  ANY answer is not allowed, and opens the socket to a checked address itself, so there is no
  second lookup for DNS rebinding to exploit. The check lives in the connection pool's network
  backend: the URL, ``Host`` header, TLS SNI and certificate check all keep the name, and pooled
  connections stay keyed by name (never shared between names that resolve to one address).
  Redirects are not followed; a hop followed anyway is a new request, checked again.
* ``OUTBOUND_ALLOWLIST`` (operator): host names and CIDRs that may be reached although internal.
  An allowlisted name may resolve to anything; an address inside an allowlisted CIDR is allowed.

At most :data:`MAX_RESPONSE_BYTES` of a response body are read (:func:`read_limited`).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import re
import socket
import ssl
import zlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

import httpcore
import httpx
import idna

__all__ = [
    "DEFAULT_LIMITS", "DEFAULT_TIMEOUT", "MAX_RESPONSE_BYTES", "GuardedTransport", "LimitedBody",
    "OutboundPolicy", "OutboundRefused", "Resolver", "build_client", "fetch", "read_limited", "shared_tls",
    "system_resolver",
]

MAX_RESPONSE_BYTES = 65_536
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=30.0)
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
HINT = "allow it with OUTBOUND_ALLOWLIST"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""``async (host, port) -> addresses``: how the transport resolves names (tests inject one)."""


class OutboundRefused(httpx.RequestError):
    """A request the outbound policy refused; nothing was sent. `reason` is the short why."""

    def __init__(self, message: str, *, reason: str = "", request: httpx.Request | None = None) -> None:
        super().__init__(message, request=request)
        self.reason = reason or message


# ---- hosts: every spelling to one address or one name -----------------------------------------------

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback",
                             "localhost6", "localhost6.localdomain6"})
_NUMBER = re.compile(r"0x[0-9a-f]*|[0-9]+")  # a last label like this makes the host an IPv4 address
_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")
_SPECIAL: tuple[tuple[IPNetwork, str], ...] = tuple((ipaddress.ip_network(net), label) for net, label in (
    ("0.0.0.0/8", "this-network"), ("100.64.0.0/10", "carrier-grade NAT"), ("192.0.0.0/24", "IETF protocol"),
    ("192.0.2.0/24", "documentation"), ("198.51.100.0/24", "documentation"), ("203.0.113.0/24", "documentation"),
    ("198.18.0.0/15", "benchmarking"), ("192.88.99.0/24", "6to4 relay"), ("255.255.255.255/32", "broadcast"),
    ("2001:db8::/32", "documentation"), ("3fff::/20", "documentation"), ("2001:2::/48", "benchmarking"),
))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_COMPATIBLE = ipaddress.ip_network("::/96")


class _Host(NamedTuple):
    ip: IPAddress | None = None
    name: str = ""
    error: str = ""


def _inet_aton(text: str) -> ipaddress.IPv4Address | None:
    """Like C ``inet_aton``: 1-4 parts, each decimal, octal (leading 0) or hex (0x); the last part
    fills the remaining bytes, so ``127.1`` is 127.0.0.1 and ``2130706433`` is too."""
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values = []
    for part in parts:
        if re.fullmatch(r"0x[0-9a-f]+", part):
            values.append(int(part, 16))
        elif re.fullmatch(r"0[0-7]*", part):
            values.append(int(part, 8))
        elif re.fullmatch(r"[1-9][0-9]*", part):
            values.append(int(part))
        else:
            return None
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (4 - len(head)):
        return None
    number = last
    for i, value in enumerate(head):
        number |= value << (8 * (3 - i))
    return ipaddress.IPv4Address(number)


def _parse_host(host: str) -> _Host:
    """One host as a resolver would read it: an address (any spelling) or a lower-case ASCII name."""
    text = unquote(host).lower()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if len(text) > 253:
        return _Host(error=f"host {host[:60]!r}... is too long")
    if ":" in text:
        try:
            return _Host(ip=ipaddress.IPv6Address(text))
        except ValueError:
            return _Host(error=f"host {host!r} is not a valid IPv6 address")
    text = text.removesuffix(".")
    if _NUMBER.fullmatch(text.rsplit(".", 1)[-1]):
        ip = _inet_aton(text)
        return _Host(ip=ip) if ip else _Host(error=f"host {host!r} is not a valid IPv4 address")
    if not text.isascii():
        try:
            ascii_name = idna.encode(text, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError):
            return _Host(error=f"host {host!r} is not a valid host name")
        return _parse_host(ascii_name)
    if not text or not all(_LABEL.fullmatch(label) for label in text.split(".")):
        return _Host(error=f"host {host!r} is not a valid host name")
    return _Host(name=text)


def _unmapped(ip: IPAddress) -> IPAddress:
    """``::ffff:a.b.c.d`` is a.b.c.d on the wire; a zone id does not change what an address is."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.scope_id:
            return ipaddress.IPv6Address(str(ip).split("%", 1)[0])
    return ip


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    if ip in _NAT64:
        return "NAT64", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _COMPATIBLE and int(ip) > 1:
        return "IPv4-compatible", ipaddress.IPv4Address(int(ip))
    if ip.sixtofour is not None:
        return "6to4", ip.sixtofour
    return None


def _address_label(ip: IPAddress) -> str | None:
    """Why an (unmapped) address may not be reached, or None if it is globally routable."""
    if isinstance(ip, ipaddress.IPv6Address) and not (ip.is_loopback or ip.is_unspecified):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            kind, v4 = embedded
            inner = _address_label(v4)
            if inner:
                return f"{kind}, embeds {v4}: {inner}"
            if kind == "NAT64":
                return None  # a public IPv4 through the NAT64 gateway (Python calls ::/8 reserved)
    checks: tuple[tuple[bool, str], ...] = (
        (ip.is_unspecified, "unspecified"), (ip.is_loopback, "loopback"), (ip.is_link_local, "link-local"),
        (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local, "site-local"),
        (ip.is_multicast, "multicast"),
    )
    for hit, label in checks:
        if hit:
            return label
    for network, label in _SPECIAL:
        if ip.version == network.version and ip in network:
            return label
    if ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return "private"
    return None if ip.is_global else "not globally routable"


# ---- the policy ----------------------------------------------------------------------------------

def _parse_allowlist(allowlist: str | Iterable[str]) -> tuple[frozenset[str], tuple[IPNetwork, ...]]:
    entries = allowlist.split(",") if isinstance(allowlist, str) else list(allowlist)
    names: set[str] = set()
    networks: list[IPNetwork] = []
    for raw in entries:
        entry = raw.strip().lower()
        if not entry:
            continue
        bare = entry[1:-1] if entry.startswith("[") and entry.endswith("]") else entry
        if "/" in bare or ":" in bare or _NUMBER.fullmatch(bare.rsplit(".", 1)[-1]):
            try:
                networks.append(ipaddress.ip_network(bare))
            except ValueError as exc:
                raise ValueError(f"OUTBOUND_ALLOWLIST entry {raw.strip()!r} is not a valid address or CIDR "
                                 f"({exc})") from None
            continue
        host = _parse_host(entry)
        if not host.name:
            raise ValueError(f"OUTBOUND_ALLOWLIST entry {raw.strip()!r} is not a host name, address or CIDR")
        names.add(host.name)
    return frozenset(names), tuple(networks)


class OutboundPolicy:
    """Which hosts user-written URLs may reach. Immutable; cheap to share."""

    def __init__(self, allowlist: str | Iterable[str] = "") -> None:
        self.names, self.networks = _parse_allowlist(allowlist)

    def __repr__(self) -> str:
        return f"OutboundPolicy(names={sorted(self.names)}, networks={[str(n) for n in self.networks]})"

    def check_url(self, url: str) -> str | None:
        """None if `url` may be called, else a short reason. Pure: no DNS, no I/O."""
        try:
            split = urlsplit(url)
            split.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError as exc:
            return f"not a valid URL ({exc})"
        if split.scheme.lower() not in ("http", "https"):
            return "only http:// and https:// URLs may be called"
        if "@" in split.netloc:
            return "a URL may not carry credentials (user:password@); send them in a header"
        if not split.hostname:
            return "the URL has no host"
        reason = self.check_host(split.hostname)
        if reason:
            return reason
        try:  # the client's own parser must agree
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            return f"not a valid URL ({exc})"
        if parsed.userinfo:
            return "a URL may not carry credentials (user:password@); send them in a header"
        return self.check_host(parsed.host) if parsed.host != split.hostname else None

    def check_host(self, host: str) -> str | None:
        """None if `host` (a name or an address in any spelling) may be reached, else why not."""
        parsed = _parse_host(host)
        if parsed.error:
            return parsed.error
        if parsed.ip is not None:
            label = self._refusal(parsed.ip)
            if label is None:
                return None
            shown = str(_unmapped(parsed.ip))
            return f"{host} is {label}; {HINT}" if host == shown else f"{host} is {shown} ({label}); {HINT}"
        if parsed.name in self.names:
            return None
        if parsed.name in _LOOPBACK_NAMES or parsed.name.endswith(".localhost"):
            return f"{parsed.name} is a loopback name; {HINT}"
        return None

    def check_resolved(self, name: str, addresses: Sequence[IPAddress]) -> str | None:
        """After DNS: None if every address `name` resolved to may be reached, else why not."""
        if _parse_host(name).name in self.names:
            return None
        for ip in addresses:
            label = self._refusal(ip)
            if label:
                return f"{name} resolves to {_unmapped(ip)} ({label}); {HINT}"
        return None

    def _refusal(self, ip: IPAddress) -> str | None:
        ip = _unmapped(ip)
        if any(ip.version == net.version and ip in net for net in self.networks):
            return None
        return _address_label(ip)


# ---- run time: the transport -------------------------------------------------------------------

async def system_resolver(host: str, port: int) -> list[str]:
    """The event loop's getaddrinfo: the addresses of `host`, in the system's order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _socket_address(ip: IPAddress) -> str:
    """What to connect to: a mapped address as plain IPv4; a zone id is kept."""
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return str(mapped or ip)


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Opens a socket only to an address the policy allowed, found by one lookup per connection."""

    def __init__(self, policy: OutboundPolicy, resolver: Resolver, inner: httpcore.AsyncNetworkBackend) -> None:
        self._policy, self._resolver, self._inner = policy, resolver, inner

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        error: Exception | None = None
        for address in await self._addresses(host, port, timeout):
            try:
                return await self._inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                                     socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc  # try the next checked address
        assert error is not None
        raise error

    async def _addresses(self, host: str, port: int, timeout: float | None) -> list[str]:
        reason = self._policy.check_host(host)
        if reason:
            raise OutboundRefused(reason)
        parsed = _parse_host(host)
        if parsed.ip is not None:
            return [_socket_address(parsed.ip)]
        answers = await self._resolve(parsed.name, port, timeout)
        reason = self._policy.check_resolved(parsed.name, answers)
        if reason:
            raise OutboundRefused(reason)
        return [_socket_address(ip) for ip in answers]

    async def _resolve(self, name: str, port: int, timeout: float | None) -> list[IPAddress]:
        try:
            async with asyncio.timeout(timeout):
                answers = await self._resolver(name, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {name} timed out") from None
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {name}: {exc.strerror or exc}") from None
        try:
            addresses = [ipaddress.ip_address(answer) for answer in answers]
        except ValueError as exc:
            raise OutboundRefused(f"{name} resolved to something that is not an address ({exc})") from None
        if not addresses:
            raise httpcore.ConnectError(f"{name} resolves to no address")
        return addresses

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        raise OutboundRefused("unix sockets are never reached")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


@functools.cache
def shared_tls() -> ssl.SSLContext:
    """The process's one client TLS context with the default roots (certifi's, or the operator's
    SSL_CERT_FILE / SSL_CERT_DIR), read at its first use. Loading the roots takes ~60 ms and each
    client used to load them again. Shared by HTTP/1.1 clients only: httpcore sets the context's
    ALPN protocols on every connection, which an HTTP/2 client would change under the others."""
    return httpx.create_ssl_context()


def tls_context(verify: ssl.SSLContext | bool, *, http2: bool = False) -> ssl.SSLContext:
    if verify is True and not http2:
        return shared_tls()
    return httpx.create_ssl_context(verify=verify)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport, with every request checked by `policy` and every connection opened by
    :class:`_GuardedBackend`. Refusals raise :class:`OutboundRefused`, naming the URL."""

    def __init__(self, policy: OutboundPolicy, *, resolver: Resolver | None = None,
                 verify: ssl.SSLContext | bool = True, limits: httpx.Limits = DEFAULT_LIMITS, http2: bool = False,
                 network_backend: httpcore.AsyncNetworkBackend | None = None) -> None:
        ssl_context = tls_context(verify, http2=http2)
        super().__init__(verify=ssl_context, limits=limits, http2=http2, trust_env=False)
        self.policy = policy
        # httpx does not pass a network backend through, so the pool is rebuilt with the guarded one.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context, max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections, keepalive_expiry=limits.keepalive_expiry,
            http1=True, http2=http2,
            network_backend=_GuardedBackend(policy, resolver or system_resolver,
                                            network_backend or httpcore.AnyIOBackend()),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        try:
            reason = self.policy.check_url(url)
            if reason:
                raise OutboundRefused(reason)
            return await super().handle_async_request(request)
        except OutboundRefused as exc:
            raise OutboundRefused(f"{url[:300]} refused: {exc.reason}", reason=exc.reason, request=request) from None


def build_client(policy: OutboundPolicy, *, resolver: Resolver | None = None,
                 network_backend: httpcore.AsyncNetworkBackend | None = None, **httpx_kwargs: Any) -> httpx.AsyncClient:
    """An AsyncClient for user-written URLs: guarded transport, no redirects, no proxies from the
    environment, pooled. `verify`, `limits` and `http2` go to the transport; the rest to httpx."""
    for key in ("transport", "mounts", "proxy", "trust_env"):
        if key in httpx_kwargs:
            raise TypeError(f"build_client() does not take {key}=: it would bypass the outbound policy")
    if httpx_kwargs.pop("follow_redirects", False):
        raise ValueError("build_client() never follows redirects: a redirect is returned as the response")
    transport = GuardedTransport(policy, resolver=resolver, network_backend=network_backend,
                                 verify=httpx_kwargs.pop("verify", True),
                                 limits=httpx_kwargs.pop("limits", DEFAULT_LIMITS),
                                 http2=httpx_kwargs.pop("http2", False))
    httpx_kwargs.setdefault("timeout", DEFAULT_TIMEOUT)
    return httpx.AsyncClient(transport=transport, follow_redirects=False, trust_env=False, **httpx_kwargs)


# ---- bounded bodies ------------------------------------------------------------------------------

class LimitedBody(NamedTuple):
    content: bytes
    truncated: bool


async def fetch(client: httpx.AsyncClient, method: str, url: str, *, timeout_seconds: float,
                limit: int = MAX_RESPONSE_BYTES, **kwargs: Any) -> tuple[httpx.Response, LimitedBody]:
    """One request whose whole answer (connect, send, every read) takes at most `timeout_seconds`
    (httpx's own timeout bounds each read alone, so a server trickling bytes could hold it far
    longer), with at most `limit` bytes of its body read. Raises TimeoutError when it took too long."""
    async with asyncio.timeout(timeout_seconds):
        async with client.stream(method, url, timeout=timeout_seconds, **kwargs) as response:
            return response, await read_limited(response, limit)


async def read_limited(response: httpx.Response, limit: int = MAX_RESPONSE_BYTES) -> LimitedBody:
    """At most `limit` bytes of a streamed response's body, and whether there was more. The
    response is closed; a connection left with unread body is dropped, not reused.

    The body is read as it came over the wire and inflated here, bounded: a gzip or deflate
    answer (sent although we asked for identity) cannot expand past `limit` in memory. Other
    encodings are not decoded: their first `limit` raw bytes are kept."""
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    inflate = zlib.decompressobj(_WBITS[encoding]) if encoding in _WBITS else None
    chunks: list[bytes] = []
    size = 0
    try:
        async for raw in response.aiter_raw():
            chunk = raw if inflate is None else inflate.decompress(inflate.unconsumed_tail + raw, limit + 1 - size)
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                break
        if inflate is not None and size <= limit:
            chunks.append(inflate.flush())
    except zlib.error as exc:
        raise httpx.DecodingError(f"the {encoding} body could not be inflated: {exc}",
                                  request=response.request) from None
    finally:
        await response.aclose()
    body = b"".join(chunks)
    return LimitedBody(body[:limit], len(body) > limit)


# zlib window bits: gzip header, zlib (deflate as HTTP sends it) header.
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
