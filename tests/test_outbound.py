"""The outbound policy: write-time URL checks, run-time enforcement after DNS, bounded bodies.

Every request here goes to tiny servers on 127.0.0.1 / 127.0.0.2 / ::1, and every client is built
with a network backend that fails the test if it is ever asked to open a socket anywhere else.
Names other than ``localhost`` are answered by injected resolvers, never by DNS.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpcore
import httpx
import pytest

from workflow_core_module.engine.outbound import (
    MAX_RESPONSE_BYTES,
    GuardedTransport,
    OutboundPolicy,
    OutboundRefused,
    build_client,
    read_limited,
    shared_tls,
    system_resolver,
)
from workflow_core_module.engine.outbound import _GuardedBackend as GuardedBackend
from workflow_core_module.engine.outbound import _inet_aton as inet_aton

LOCAL = {"127.0.0.1", "127.0.0.2", "::1"}


# ---- helpers: local servers, a socket guard, resolvers ----------------------------------------------

Respond = Callable[[dict[str, Any]], tuple[int, dict[str, str], bytes]]


class LocalServer:
    """A keep-alive HTTP/1.1 server that records every connection and request."""

    def __init__(self, respond: Respond | None = None) -> None:
        self.respond: Respond = respond or (lambda request: (200, {}, b"ok"))
        self.connections: list[tuple[Any, ...]] = []
        self.requests: list[dict[str, Any]] = []
        self.server: asyncio.base_events.Server | None = None
        self.port = 0

    async def start(self, host: str = "127.0.0.1", port: int = 0, ssl_context: ssl.SSLContext | None = None) -> None:
        self.server = await asyncio.start_server(self._serve, host, port, ssl=ssl_context)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections.append(writer.get_extra_info("sockname"))
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                line, *lines = head.decode("latin-1").split("\r\n")
                method, target, _ = line.split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in lines if h)}
                body = await reader.readexactly(int(headers.get("content-length", 0)))
                request = {"method": method, "target": target, "headers": headers, "body": body,
                           "local": writer.get_extra_info("sockname")[0]}
                self.requests.append(request)
                status, extra, payload = self.respond(request)
                out = {"content-length": str(len(payload)), **extra}
                writer.write(f"HTTP/1.1 {status} X\r\n".encode() + b"".join(
                    f"{k}: {v}\r\n".encode() for k, v in out.items()) + b"\r\n" + payload)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@asynccontextmanager
async def serving(host: str = "127.0.0.1", respond: Respond | None = None, port: int = 0,
                  ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[LocalServer]:
    server = LocalServer(respond)
    await server.start(host, port, ssl_context)
    try:
        yield server
    finally:
        await server.stop()


class GuardBackend(httpcore.AsyncNetworkBackend):
    """The real socket opener, recording every connect and failing the test on a non-local one."""

    def __init__(self) -> None:
        self.connects: list[tuple[str, int]] = []
        self._real = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None, socket_options: Any = None) -> httpcore.AsyncNetworkStream:
        self.connects.append((host, port))
        if host not in LOCAL:
            raise AssertionError(f"the test client was asked to connect to {host}:{port}")
        return await self._real.connect_tcp(host, port, timeout=timeout, local_address=local_address,
                                            socket_options=socket_options)

    async def sleep(self, seconds: float) -> None:
        await self._real.sleep(seconds)


class FakeDNS:
    """An injected resolver: name -> a list of answers, or a callable giving the n-th answer."""

    def __init__(self, table: dict[str, Any]) -> None:
        self.table = table
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.calls.append(host)
        answer = self.table.get(host)
        if answer is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return answer(len(self.calls)) if callable(answer) else answer


def client_for(allowlist: str = "", resolver: Any = None, **kwargs: Any) -> tuple[httpx.AsyncClient, GuardBackend]:
    guard = GuardBackend()
    return build_client(OutboundPolicy(allowlist), resolver=resolver, network_backend=guard, **kwargs), guard


# ---- write time: check_url -----------------------------------------------------------------------

# (host as typed in a URL, what the reason must mention)
REFUSED_HOSTS = [
    # loopback, every spelling
    ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("2130706433", "127.0.0.1 (loopback)"),
    ("0x7f000001", "127.0.0.1 (loopback)"), ("0177.0.0.1", "127.0.0.1 (loopback)"), ("0x7f.1", "127.0.0.1 (loopback)"),
    ("127.1", "127.0.0.1 (loopback)"), ("127.0.1", "127.0.0.1 (loopback)"), ("127.0.0.1.", "127.0.0.1 (loopback)"),
    ("017700000001", "127.0.0.1 (loopback)"), ("0x7f.0x0.0.01", "127.0.0.1 (loopback)"),
    ("0000000177.0.0.1", "127.0.0.1 (loopback)"), ("%31%32%37.0.0.1", "127.0.0.1 (loopback)"),
    ("１２７.０.０.１", "127.0.0.1 (loopback)"),
    ("[::1]", "loopback"), ("[0:0:0:0:0:0:0:1]", "::1 (loopback)"), ("[::ffff:127.0.0.1]", "127.0.0.1 (loopback)"),
    ("[::ffff:7f00:1]", "127.0.0.1 (loopback)"), ("[0:0:0:0:0:ffff:7f00:1]", "127.0.0.1 (loopback)"),
    ("[::127.0.0.1]", "IPv4-compatible, embeds 127.0.0.1: loopback"), ("[64:ff9b::7f00:1]", "NAT64, embeds 127.0.0.1"),
    ("[64:ff9b::127.0.0.1]", "NAT64, embeds 127.0.0.1"), ("[2002:7f00:1::]", "6to4, embeds 127.0.0.1"),
    # private
    ("10.0.0.1", "private"), ("10.1", "10.0.0.1 (private)"), ("172.16.0.1", "private"), ("172.31.255.255", "private"),
    ("192.168.1.1", "private"), ("0xc0a80101", "192.168.1.1 (private)"), ("[fc00::1]", "private"),
    ("[fd12:3456::1]", "private"), ("[::ffff:10.0.0.1]", "10.0.0.1 (private)"), ("[64:ff9b::a00:1]", "embeds 10.0.0.1"),
    ("[2002:c0a8:101::]", "embeds 192.168.1.1"),
    # link-local, site-local
    ("169.254.169.254", "link-local"), ("2852039166", "169.254.169.254 (link-local)"),
    ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254 (link-local)"), ("[fe80::1]", "link-local"), ("[FE80::1]", "link-local"),
    ("[fe80::1%25eth0]", "link-local"), ("[fec0::1]", "site-local"),
    # carrier-grade NAT, multicast, reserved, unspecified, broadcast, documentation, benchmarking
    ("100.64.0.1", "carrier-grade NAT"), ("100.127.255.254", "carrier-grade NAT"), ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"), ("[ff02::1]", "multicast"), ("0.0.0.0", "unspecified"),
    ("0", "0.0.0.0 (unspecified)"), ("0.1.2.3", "this-network"), ("[::]", "unspecified"), ("240.0.0.1", "reserved"),
    ("255.255.255.255", "broadcast"), ("192.0.2.1", "documentation"), ("198.51.100.7", "documentation"),
    ("203.0.113.9", "documentation"), ("[2001:db8::1]", "documentation"), ("198.18.0.1", "benchmarking"),
    ("[2001::1]", "private"),  # Teredo
    # loopback names
    ("localhost", "loopback name"), ("LOCALHOST", "loopback name"), ("localhost.", "loopback name"),
    ("foo.localhost", "loopback name"), ("a.b.LocalHost", "loopback name"), ("localhost.localdomain", "loopback name"),
    ("ip6-localhost", "loopback name"), ("%6c%6fcalhost", "loopback name"), ("ⓛocalhost", "loopback name"),
    ("loca\u00adlhost", "loopback name"),
    # not an address, not a name
    ("localhost%00.evil.com", "not a valid host name"), ("256.1.1.1", "not a valid IPv4 address"),
    ("1.2.3.4.5", "not a valid IPv4 address"), ("08.0.0.1", "not a valid IPv4 address"),
    ("foo.0x7f", "not a valid IPv4 address"),
]

REFUSED_URLS = [
    ("ftp://example.com/", "only http"), ("file:///etc/passwd", "only http"), ("gopher://example.com/", "only http"),
    ("javascript:alert(1)", "only http"), ("//example.com/", "only http"),
    ("http://user:pass@example.com/", "credentials"), ("http://user@example.com/", "credentials"),
    ("https://:@example.com/", "credentials"), ("http://a.b\\@127.0.0.1/", "credentials"),
    ("http:///path", "no host"), ("http://:80/", "no host"), ("http:/example.com", "no host"),
    ("http://[::1/", "not a valid URL"), ("http://example.com:99999/", "not a valid URL"),
]

ACCEPTED_URLS = [
    "https://93.184.216.34/", "https://example.com/x", "http://example.com:8080/a/b?q=1#f", "HTTPS://EXAMPLE.COM/",
    "https://[2606:2800:220:1:248:1893:25c8:1946]/", "https://bücher.de/", "http://dead.cafe/", "http://1.com/",
    "http://my_host.example.com/", "http://localhost.example.com/", "http://[::ffff:8.8.8.8]/",
    "http://[64:ff9b::808:808]/", "http://example.com/path@with-at-sign",
]


@pytest.mark.parametrize(("host", "expected"), REFUSED_HOSTS)
def test_internal_hosts_are_refused_in_every_spelling(host: str, expected: str) -> None:
    for url in (f"http://{host}/x", f"https://{host}:8443/x?y=1"):
        reason = OutboundPolicy().check_url(url)
        assert reason is not None and expected in reason, (url, reason)


@pytest.mark.parametrize(("url", "expected"), REFUSED_URLS)
def test_bad_urls_are_refused(url: str, expected: str) -> None:
    reason = OutboundPolicy().check_url(url)
    assert reason is not None and expected in reason, (url, reason)


@pytest.mark.parametrize("url", ACCEPTED_URLS)
def test_public_urls_are_accepted_without_any_lookup(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("check_url did a DNS lookup")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    assert OutboundPolicy().check_url(url) is None


def test_reasons_are_readable() -> None:
    policy = OutboundPolicy()
    assert policy.check_url("http://0x7f.1/") == "0x7f.1 is 127.0.0.1 (loopback); allow it with OUTBOUND_ALLOWLIST"
    assert policy.check_url("http://10.0.0.1/") == "10.0.0.1 is private; allow it with OUTBOUND_ALLOWLIST"
    assert policy.check_url("http://localhost:8080/") == (
        "localhost is a loopback name; allow it with OUTBOUND_ALLOWLIST")


@pytest.mark.parametrize("spelling", [
    "127.1", "0x7f.1", "0177.0.0.1", "2130706433", "0x7f000001", "017700000001", "0x7f.0x0.0.01", "10.1", "10.0.1",
    "4294967295", "4294967296", "0x", "08.1", "1.2.3.4.5", "0x100.1", "1.0x1000000", "1.2.0x10000", "1.2.3.256",
    "00000000000000000001", "0xffffffff", "0x1ffffffff", "0.0.0.0", "192.168.257", "0300.0250.0.1",
])
def test_legacy_ipv4_spellings_read_like_inet_aton(spelling: str) -> None:
    try:
        expected: str | None = socket.inet_ntoa(socket.inet_aton(spelling))
    except OSError:
        expected = None
    parsed = inet_aton(spelling)
    assert (str(parsed) if parsed else None) == expected


# ---- the allowlist ---------------------------------------------------------------------------------

def test_allowlisted_hosts_and_networks_pass_the_write_time_check() -> None:
    policy = OutboundPolicy(" sink.internal, 127.0.0.1/32 ,10.0.0.0/8, [::1],, fd00::/8 ")
    assert policy.names == {"sink.internal"}
    for url in ("http://sink.internal:9000/hook", "http://SINK.internal./", "http://127.0.0.1:8080/",
                "http://2130706433/", "http://10.20.30.40/", "http://10.1/", "http://[::ffff:10.0.0.1]/",
                "http://[::1]:8080/", "http://[fd12::1]/"):
        assert policy.check_url(url) is None, url
    for url in ("http://127.0.0.2/", "http://192.168.0.1/", "http://localhost/", "http://other.internal.localhost/"):
        assert policy.check_url(url) is not None, url
    assert OutboundPolicy(["localhost", "169.254.169.254"]).check_url("http://localhost/") is None
    assert OutboundPolicy(["localhost", "169.254.169.254"]).check_url("http://169.254.169.254/") is None


@pytest.mark.parametrize("entry", ["10.0.0.5/8", "300.1.1.1", "10.0.0.0/33", "sink:8080", "http://sink", "127.1",
                                   "bad host", "-bad.example", "*.example.com", "fe80::zz", "a..b"])
def test_a_bad_allowlist_entry_is_a_value_error_naming_it(entry: str) -> None:
    with pytest.raises(ValueError) as raised:
        OutboundPolicy(f"ok.example, {entry}, 10.0.0.0/8")
    message = str(raised.value)
    assert "OUTBOUND_ALLOWLIST" in message and repr(entry) in message and "\n" not in message


# ---- run time --------------------------------------------------------------------------------------

def runtime_url(host: str, port: int) -> str:
    return f"http://{host}:{port}/steal?x=1"


LOOPBACK_SPELLINGS = [host for host, expected in REFUSED_HOSTS if "loopback" in expected]


async def test_every_spelling_is_refused_at_run_time_with_nothing_sent() -> None:
    async with serving() as target, serving("::1") as target6:
        client, guard = client_for()
        async with client:
            for host, _ in REFUSED_HOSTS:
                for port in (target.port, target6.port):
                    url = runtime_url(host, port)
                    try:
                        httpx.URL(url)
                    except httpx.InvalidURL:  # httpx refuses to build this one itself
                        with pytest.raises(httpx.InvalidURL):
                            await client.get(url)
                        continue
                    with pytest.raises(OutboundRefused) as raised:
                        await client.get(url)
                    assert "refused:" in str(raised.value) and raised.value.request is not None, url
    assert len(LOOPBACK_SPELLINGS) > 20
    assert guard.connects == [] and target.connections == [] and target6.connections == []


async def test_bad_urls_are_refused_at_run_time_too() -> None:
    dns = FakeDNS({"example.com": ["93.184.216.34"]})  # never connected to: every URL here is refused first
    client, guard = client_for(resolver=dns)
    async with client:
        for url, _ in REFUSED_URLS:
            try:
                httpx.URL(url)
            except httpx.InvalidURL:
                continue
            with pytest.raises(OutboundRefused):
                await client.get(url)
    assert dns.calls == [] and guard.connects == []


@pytest.mark.parametrize("host", ["127.0.0.1", "2130706433", "::ffff:127.0.0.1", "localhost", "%6c%6fcalhost"])
async def test_the_socket_opener_itself_refuses_whatever_reaches_it(host: str) -> None:
    """Defence in depth: the network backend checks hosts on its own, not only the transport."""
    guard = GuardBackend()
    backend = GuardedBackend(OutboundPolicy(), FakeDNS({}), guard)
    with pytest.raises(OutboundRefused):
        await backend.connect_tcp(host, 80)
    with pytest.raises(OutboundRefused):
        await backend.connect_unix_socket("/run/docker.sock")
    assert guard.connects == []


async def test_refused_message_names_the_url_and_the_reason() -> None:
    async with serving() as target:
        client, guard = client_for()
        async with client:
            with pytest.raises(OutboundRefused) as raised:
                await client.get(f"http://localhost:{target.port}/x")
            assert str(raised.value) == (f"http://localhost:{target.port}/x refused: localhost is a loopback name; "
                                         "allow it with OUTBOUND_ALLOWLIST")
            assert isinstance(raised.value, httpx.HTTPError)  # callers catching httpx errors catch it too
    assert target.connections == [] and guard.connects == []


async def test_a_made_up_name_resolving_to_loopback_is_refused_after_dns() -> None:
    dns = FakeDNS({"innocent.test": ["127.0.0.1"]})
    async with serving() as target:
        client, guard = client_for(resolver=dns)
        async with client:
            with pytest.raises(OutboundRefused) as raised:
                await client.post(f"http://innocent.test:{target.port}/x", json={"a": 1})
    assert str(raised.value) == (f"http://innocent.test:{target.port}/x refused: innocent.test resolves to "
                                 "127.0.0.1 (loopback); allow it with OUTBOUND_ALLOWLIST")
    assert dns.calls == ["innocent.test"]
    assert target.connections == [] and guard.connects == []


@pytest.mark.parametrize("answers", [["93.184.216.34", "127.0.0.1"], ["2606:2800:220:1::1", "::ffff:127.0.0.1"],
                                     ["93.184.216.34", "169.254.169.254"], ["93.184.216.34", "64:ff9b::a00:1"]])
async def test_any_bad_answer_refuses_the_request(answers: list[str]) -> None:
    dns = FakeDNS({"mixed.test": answers})
    client, guard = client_for(resolver=dns)
    async with client:
        with pytest.raises(OutboundRefused, match=r"mixed\.test resolves to"):
            await client.get("http://mixed.test/")
    assert guard.connects == []


async def test_a_slow_resolver_is_a_connect_timeout() -> None:
    async def hang(host: str, port: int) -> Sequence[str]:
        await asyncio.sleep(30)
        return ["127.0.0.1"]

    client, guard = client_for("slow.test", resolver=hang, timeout=httpx.Timeout(5.0, connect=0.1))
    async with client:
        with pytest.raises(httpx.ConnectTimeout, match="resolving slow.test timed out"):
            await client.get("http://slow.test/")
    assert guard.connects == []


async def test_the_next_checked_address_is_tried_when_one_does_not_answer() -> None:
    async with serving("127.0.0.1") as target:
        dns = FakeDNS({"dual.test": ["::1", "127.0.0.1"]})  # nothing listens on [::1]:port
        client, guard = client_for("::1, 127.0.0.1", resolver=dns)
        async with client:
            assert (await client.get(f"http://dual.test:{target.port}/")).status_code == 200
    assert guard.connects == [("::1", target.port), ("127.0.0.1", target.port)]
    assert len(target.requests) == 1


async def test_resolver_failures_are_connect_errors() -> None:
    client, guard = client_for(resolver=FakeDNS({"empty.test": []}))
    async with client:
        with pytest.raises(httpx.ConnectError, match="cannot resolve nowhere.test"):
            await client.get("http://nowhere.test/")
        with pytest.raises(httpx.ConnectError, match="resolves to no address"):
            await client.get("http://empty.test/")
    assert guard.connects == []


async def test_an_allowlisted_address_is_reached_with_host_and_path_intact() -> None:
    async with serving() as target:
        client, guard = client_for("127.0.0.0/8")
        async with client:
            response = await client.get(f"http://127.0.0.1:{target.port}/a/b?c=d", headers={"X-Test": "1"})
            assert response.status_code == 200 and response.text == "ok"
            response = await client.get(f"http://2130706433:{target.port}/spelled")  # connects to the canonical form
            assert response.status_code == 200
    assert [r["target"] for r in target.requests] == ["/a/b?c=d", "/spelled"]
    assert target.requests[0]["headers"]["host"] == f"127.0.0.1:{target.port}"
    assert target.requests[0]["headers"]["x-test"] == "1"
    assert target.requests[1]["headers"]["host"] == f"2130706433:{target.port}"
    assert guard.connects == [("127.0.0.1", target.port)] * 2  # one connection per origin, both to the checked address


async def test_an_allowlisted_ipv6_loopback_is_reached() -> None:
    async with serving("::1") as target:
        client, guard = client_for("::1")
        async with client:
            assert (await client.get(f"http://[::1]:{target.port}/six")).status_code == 200
    assert target.requests[0]["headers"]["host"] == f"[::1]:{target.port}"
    assert guard.connects == [("::1", target.port)]


async def test_an_allowlisted_name_may_resolve_to_anything() -> None:
    dns = FakeDNS({"sink.test": ["127.0.0.1"]})
    async with serving() as target:
        client, guard = client_for("sink.test", resolver=dns)
        async with client:
            response = await client.get(f"http://sink.test:{target.port}/hook")
    assert response.status_code == 200
    assert target.requests[0]["headers"]["host"] == f"sink.test:{target.port}"
    assert target.requests[0]["target"] == "/hook"
    assert guard.connects == [("127.0.0.1", target.port)]


async def test_allowlisted_localhost_goes_through_the_system_resolver() -> None:
    assert "127.0.0.1" in await system_resolver("localhost", 80)  # /etc/hosts, not DNS
    async with serving() as target:
        client, guard = client_for("localhost")
        async with client:
            response = await client.get(f"http://localhost:{target.port}/")
    assert response.status_code == 200 and target.requests[0]["headers"]["host"] == f"localhost:{target.port}"
    assert ("127.0.0.1", target.port) in guard.connects


async def test_the_connection_goes_to_the_address_that_was_checked() -> None:
    """DNS rebinding: the first answer (allowlisted 127.0.0.2) is checked and connected to; a later
    answer (127.0.0.1, not allowlisted) is never used for that connection, and refuses a new one."""
    dns = FakeDNS({"rebind.test": lambda n: ["127.0.0.2"] if n == 1 else ["127.0.0.1"]})
    async with serving("127.0.0.1") as loopback, serving("127.0.0.2", port=loopback.port) as checked:
        url = f"http://rebind.test:{loopback.port}/r"
        client, guard = client_for("127.0.0.2/32", resolver=dns)
        async with client:
            assert (await client.get(url)).status_code == 200
            assert dns.calls == ["rebind.test"]  # one lookup for the request
            assert (await client.get(url)).status_code == 200  # same kept-alive, checked connection
            assert dns.calls == ["rebind.test"]
        assert [r["local"] for r in checked.requests] == ["127.0.0.2", "127.0.0.2"]
        assert checked.requests[0]["headers"]["host"] == f"rebind.test:{loopback.port}"
        fresh, fresh_guard = client_for("127.0.0.2/32", resolver=dns)
        async with fresh:
            with pytest.raises(OutboundRefused, match=r"resolves to 127\.0\.0\.1 \(loopback\)"):
                await fresh.get(url)
        assert dns.calls == ["rebind.test"] * 2
        assert loopback.connections == [] and fresh_guard.connects == []
        assert guard.connects == [("127.0.0.2", loopback.port)]


async def test_a_redirect_to_an_internal_address_is_not_followed() -> None:
    async with serving("127.0.0.2") as internal:
        locations = [f"http://127.0.0.2:{internal.port}/admin", "http://169.254.169.254/latest/meta-data/",
                     f"http://localhost:{internal.port}/"]
        for location in locations:
            def redirect(request: dict[str, Any], location: str = location) -> tuple[int, dict[str, str], bytes]:
                return 302, {"location": location}, b""

            async with serving("127.0.0.1", redirect) as public:
                client, guard = client_for("127.0.0.1/32")
                async with client:
                    response = await client.get(f"http://127.0.0.1:{public.port}/go")
                    assert response.status_code == 302 and response.headers["location"] == location
                    # even a caller asking to follow gets each hop checked again
                    with pytest.raises(OutboundRefused, match="refused"):
                        await client.get(f"http://127.0.0.1:{public.port}/go", follow_redirects=True)
                assert len(public.requests) == 2
                assert {host for host, _ in guard.connects} == {"127.0.0.1"}
    assert internal.connections == []


def test_build_client_refuses_options_that_would_bypass_the_policy() -> None:
    policy = OutboundPolicy()
    with pytest.raises(ValueError, match="redirects"):
        build_client(policy, follow_redirects=True)
    bypasses: dict[str, Any] = {"transport": httpx.AsyncHTTPTransport(), "mounts": {}, "proxy": "http://127.0.0.1:1",
                                "trust_env": True}
    for key, value in bypasses.items():
        with pytest.raises(TypeError, match=key):
            build_client(policy, **{key: value})
    client = build_client(policy, headers={"User-Agent": "wcm"}, limits=httpx.Limits(max_connections=5))
    assert client.follow_redirects is False and client.trust_env is False
    assert isinstance(client._transport, GuardedTransport)  # noqa: SLF001
    assert client.headers["user-agent"] == "wcm"


# ---- bounded bodies --------------------------------------------------------------------------------

async def test_read_limited_keeps_64_kib_of_a_200_kib_body() -> None:
    payload = bytes(range(256)) * (200 * 1024 // 256)
    async with serving(respond=lambda request: (200, {}, payload)) as target:
        client, _ = client_for("127.0.0.1")
        async with client:
            async with client.stream("GET", f"http://127.0.0.1:{target.port}/big") as response:
                body, truncated = await read_limited(response)
            assert MAX_RESPONSE_BYTES == 65_536
            assert truncated is True and body == payload[:MAX_RESPONSE_BYTES]
            assert response.is_closed and response.num_bytes_downloaded <= 2 * MAX_RESPONSE_BYTES  # stopped early
            async with client.stream("GET", f"http://127.0.0.1:{target.port}/big") as response:
                exact = await read_limited(response, len(payload))
            assert exact.truncated is False and exact.content == payload
            async with client.stream("GET", f"http://127.0.0.1:{target.port}/big") as response:
                short = await read_limited(response, 10)
            assert short == (payload[:10], True)


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_compressed_answer_cannot_expand_past_the_limit(encoding: str) -> None:
    import gzip
    import tracemalloc
    import zlib

    plain = b"\0" * (20 * 1024 * 1024)  # 20 MiB of zeros: about 20 KB compressed
    bomb = gzip.compress(plain) if encoding == "gzip" else zlib.compress(plain)
    small = b'{"ok": true}'
    small_body = gzip.compress(small) if encoding == "gzip" else zlib.compress(small)
    answers = {"/bomb": bomb, "/small": small_body}
    async with serving(respond=lambda request: (200, {"Content-Encoding": encoding}, answers[request["target"]])) as target:
        client, _ = client_for("127.0.0.1")
        async with client:
            async with client.stream("GET", f"http://127.0.0.1:{target.port}/bomb") as response:
                tracemalloc.start()
                try:
                    body, truncated = await read_limited(response)
                    peak = tracemalloc.get_traced_memory()[1]
                finally:
                    tracemalloc.stop()
            assert truncated is True and body == plain[:MAX_RESPONSE_BYTES]
            assert peak < 2 * 1024 * 1024, f"inflating took {peak:,} bytes"  # not the 20 MiB it expands to
            async with client.stream("GET", f"http://127.0.0.1:{target.port}/small") as response:
                assert await read_limited(response) == (small, False)


# ---- TLS: the name is used for SNI and for checking the certificate ----------------------------------

@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=tls.test",
                    "-addext", "subjectAltName=DNS:tls.test"], check=True, capture_output=True)
    return cert, key


async def test_https_keeps_the_name_for_sni_and_certificate_checks(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    seen_sni: list[str | None] = []
    server_context.sni_callback = lambda sock, name, context: seen_sni.append(name)
    trust = ssl.create_default_context(cafile=str(cert))
    dns = FakeDNS({"tls.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
    async with serving(ssl_context=server_context) as target:
        client, guard = client_for("127.0.0.1/32", resolver=dns, verify=trust)
        async with client:
            response = await client.get(f"https://tls.test:{target.port}/secure")
            assert response.status_code == 200
            # same address, another name: its own connection, its own SNI, and the certificate does not match
            with pytest.raises(httpx.ConnectError, match="certificate verify failed|match"):
                await client.get(f"https://other.test:{target.port}/secure")
    assert seen_sni == ["tls.test", "other.test"]
    assert [r["headers"]["host"] for r in target.requests] == [f"tls.test:{target.port}"]
    assert guard.connects == [("127.0.0.1", target.port)] * 2


def test_http1_clients_share_one_tls_context_an_http2_or_custom_one_does_not() -> None:
    """Loading the default roots takes ~60 ms: the service's clients load them once per process."""
    policy = OutboundPolicy("")
    first, second = GuardedTransport(policy), GuardedTransport(policy)
    assert first._pool._ssl_context is second._pool._ssl_context is shared_tls()
    assert shared_tls().verify_mode is ssl.CERT_REQUIRED and shared_tls().check_hostname
    # httpcore sets the ALPN protocols on the context at each connection: HTTP/2 gets its own
    assert GuardedTransport(policy, http2=True)._pool._ssl_context is not shared_tls()
    trust = ssl.create_default_context()
    assert GuardedTransport(policy, verify=trust)._pool._ssl_context is trust
