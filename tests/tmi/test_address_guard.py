"""The address guard (portal/tmi/addresses.py): which servers a client may reach, checked on every
connection over real sockets, HTTP and the collaboration socket alike."""

from __future__ import annotations

import asyncio
import ipaddress
import time

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from portal.tmi import (
    AddressGuard,
    AddressNotAllowed,
    APIConnectionError,
    AsyncTMIClient,
    MalformedResponse,
    TMIClient,
    User,
    _http,
)
from portal.tmi.addresses import is_public, parse_entry
from portal.tmi.collab import UpstreamSession
from portal.tmi.collab.connect import upstream_connect
from tests.sandbox.collab_world import make_world
from tests.tmi.collab.live import FAST
from tests.tmi.listeners import redirect_to, tls_contexts

# -- the rule ------------------------------------------------------------------------------------------
INTERNAL = [
    "127.0.0.1",
    "127.8.9.10",
    "::1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "100.64.0.1",
    "169.254.1.1",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "fec0::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "192.0.2.1",
    "198.18.0.1",
    "2001:db8::1",
    "2001::1",
]  # documentation, benchmarking, Teredo
NEVER = [
    "169.254.169.254",
    "169.254.170.2",
    "fd00:ec2::254",
    "100.100.100.200",
    "192.0.0.192",
    "64:ff9b::a9fe:a9fe",
    "::ffff:169.254.169.254",
    "0.0.0.0",
    "0.1.2.3",
    "::",
    "224.0.0.1",
    "239.1.2.3",
    "ff02::1",
    "240.0.0.1",
    "255.255.255.255",
]
PUBLIC = ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "64:ff9b::5db8:d822"]  # the last: NAT64 of public


@pytest.mark.parametrize("address", INTERNAL + NEVER)
def test_internal_metadata_and_special_addresses_are_not_public(address):
    guard = AddressGuard(["public"])
    assert not guard.allows("tmi.example.com", ipaddress.ip_address(address), 443)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed_by_default(address):
    assert is_public(ipaddress.ip_address(address))
    assert AddressGuard().allows("tmi.example.com", ipaddress.ip_address(address), 443)


@pytest.mark.parametrize("address", INTERNAL)
def test_internal_addresses_are_allowed_when_a_listed_network_covers_them(address):
    guard = AddressGuard(["0.0.0.0/0", "::/0"])
    assert guard.allows("tmi.corp", ipaddress.ip_address(address), 8080)


@pytest.mark.parametrize("address", NEVER)
def test_metadata_unspecified_multicast_and_broadcast_are_refused_even_when_listed(address):
    guard = AddressGuard(["public", "0.0.0.0/0", "::/0", address, "metadata.google.internal"])
    assert not guard.allows("metadata.google.internal", ipaddress.ip_address(address), 80)


def test_entries_name_hosts_networks_and_ports():
    guard = AddressGuard(["tmi.corp.example", "sandbox:8080", "10.20.0.0/16:8443", "127.0.0.1", "[::1]:9000"])
    ip = ipaddress.ip_address
    assert guard.allows("tmi.corp.example", ip("10.9.9.9"), 443)  # a listed name, whatever it resolves to
    assert not guard.allows("tmi.other.example", ip("10.9.9.9"), 443)
    assert guard.allows("sandbox", ip("172.18.0.5"), 8080) and not guard.allows("sandbox", ip("172.18.0.5"), 8081)
    assert guard.allows("x", ip("10.20.1.1"), 8443) and not guard.allows("x", ip("10.20.1.1"), 443)
    assert guard.allows("localhost", ip("127.0.0.1"), 1234) and guard.allows("x", ip("::ffff:127.0.0.1"), 1)
    assert not guard.allows("x", ip("127.0.0.2"), 1234)  # the address listed, not the whole of loopback
    assert guard.allows("x", ip("::1"), 9000) and not guard.allows("x", ip("::1"), 9001)
    assert not guard.allows("x", ip("93.184.216.34"), 443)  # without "public", only what is listed


@pytest.mark.parametrize(
    "entry", ["", "http://tmi.example", "tmi.example:http", "10.0.0.0/33", "[::1]x", "tmi.example:0", "under score:1"]
)
def test_entries_that_mean_nothing_are_refused_at_once(entry):
    if entry == "":
        assert AddressGuard([entry]).entries == ()  # an empty item (a trailing comma) is nothing
        return
    with pytest.raises(ValueError):
        parse_entry(entry)


@pytest.mark.parametrize(
    "url",
    [
        "http://user:pw@tmi.example.com/",
        "http://user@tmi.example.com/",
        "https://@tmi.example.com/",
        "ftp://tmi.example.com/",
        "file:///etc/passwd",
        "http:///nohost",
        "gopher://127.0.0.1:6379/_FLUSHALL",
    ],
)
def test_urls_with_user_info_other_schemes_or_no_host_are_refused(url):
    with pytest.raises(AddressNotAllowed):
        AddressGuard(["public", "tmi.example.com", "127.0.0.1"]).target(url)


# -- HTTP, over real sockets -----------------------------------------------------------------------------
def refused_urls(port: int) -> list[str]:
    return [
        f"http://127.0.0.1:{port}",
        f"http://localhost:{port}",
        f"http://[::ffff:127.0.0.1]:{port}",
        f"http://2130706433:{port}",  # 127.0.0.1 written as one number: the resolver makes it loopback
        f"http://127.1:{port}",
        "http://169.254.169.254",
        "http://[fd00:ec2::254]",
        "http://0.0.0.0:" + str(port),
    ]


def test_a_refused_address_is_refused_before_any_connection(listener):
    guard = AddressGuard(["public"])
    for url in refused_urls(listener.port):
        started = time.perf_counter()
        with TMIClient(url, address_guard=guard, timeout=5) as client, pytest.raises(AddressNotAllowed):
            client.discovery()
        assert time.perf_counter() - started < 1.0, url  # refused, not timed out
    assert listener.accepted == 0


async def test_the_async_client_refuses_alike(listener):
    guard = AddressGuard(["public"])
    for url in refused_urls(listener.port):
        async with AsyncTMIClient(url, address_guard=guard, timeout=5) as client:
            with pytest.raises(AddressNotAllowed):
                await client.discovery()
    assert listener.accepted == 0


def test_credentials_in_the_address_are_refused_even_for_an_allowed_server(listener):
    guard = AddressGuard(["127.0.0.1"])
    with TMIClient(listener.url(host="user:pw@127.0.0.1"), address_guard=guard) as client:
        with pytest.raises(AddressNotAllowed):
            client.discovery()
    assert listener.accepted == 0


def test_an_allowed_server_is_reached(listener):
    with TMIClient(listener.url(), address_guard=AddressGuard(["127.0.0.1"]), max_retries=0) as client:
        client.config()  # the listener's {"status": "ok"} passes for a (sparse) configuration
    assert listener.accepted == 1


def test_a_redirect_from_an_allowed_server_is_not_followed(listener_factory):
    target = listener_factory()
    redirector = listener_factory(redirect_to(target.url() + "/"))
    with TMIClient(redirector.url(), address_guard=AddressGuard(["127.0.0.1"]), max_retries=0) as client:
        with pytest.raises(MalformedResponse) as raised:  # a 302 is no answer TMI gives: not followed
            client.discovery()
    assert raised.value.status_code == 302
    assert redirector.accepted == 1 and target.accepted == 0


class Resolver:
    """An injected resolver: answers from a script, one answer per question, and counts questions."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return self.answers[min(len(self.asked), len(self.answers)) - 1]


def test_the_name_is_resolved_once_per_connection_and_the_checked_address_is_used(sandbox, generation):
    # ".test" names do not resolve on this machine: reaching the sandbox proves the connection went to the
    # address the guard checked, not to a second lookup. A rebinding answer later is refused.
    resolver = Resolver(["127.0.0.1"], ["10.0.0.7"])
    guard = AddressGuard(["127.0.0.1"], resolver=resolver)
    url = sandbox.base_url.replace("127.0.0.1", "tmi.rebind.test")
    with TMIClient(url, address_guard=guard, max_retries=0) as client:
        assert client.discovery().generation == generation
        assert client.auth.providers()  # a second request on the same connection
    assert resolver.asked == ["tmi.rebind.test"]
    with TMIClient(url, address_guard=guard, max_retries=0) as client, pytest.raises(AddressNotAllowed):
        client.discovery()  # a new connection: asked again, and the new answer is refused
    assert resolver.asked == ["tmi.rebind.test"] * 2


def test_a_name_answering_one_refused_address_among_others_is_refused(listener):
    guard = AddressGuard(["127.0.0.1"], resolver=Resolver(["127.0.0.1", "169.254.169.254"]))
    with TMIClient(listener.url(host="tmi.mixed.test"), address_guard=guard) as client:
        with pytest.raises(AddressNotAllowed):
            client.discovery()
    assert listener.accepted == 0


def test_when_one_checked_address_refuses_the_next_one_is_tried(listener):
    # The listener is bound to 127.0.0.1 only, so 127.0.0.2 refuses the connection.
    resolver = Resolver(["127.0.0.2", "127.0.0.1"])
    guard = AddressGuard(["127.0.0.0/8"], resolver=resolver)
    with TMIClient(listener.url(host="tmi.twice.test"), address_guard=guard, max_retries=0) as client:
        client.config()
    assert resolver.asked == ["tmi.twice.test"] and listener.accepted == 1


def test_the_host_header_keeps_the_name(listener):
    guard = AddressGuard(["127.0.0.1"], resolver=Resolver(["127.0.0.1"]))
    with TMIClient(listener.url(host="tmi.named.test"), address_guard=guard, max_retries=0) as client:
        client.config()
    assert listener.host_headers() == [f"tmi.named.test:{listener.port}"]


def test_tls_names_and_verifies_the_server_by_its_name(listener_factory, monkeypatch):
    server, client = tls_contexts("tmi.tls.test")
    tls = listener_factory(tls=server)
    monkeypatch.setattr(_http, "shared_tls_context", lambda: client)  # trusts the test CA only
    guard = AddressGuard(["127.0.0.1"], resolver=Resolver(["127.0.0.1"]))
    with TMIClient(tls.url("https", "tmi.tls.test"), address_guard=guard, max_retries=0) as named:
        named.config()
    assert tls.server_names == ["tmi.tls.test"] and tls.host_headers() == [f"tmi.tls.test:{tls.port}"]
    # The same address by another name: the certificate does not match it, so nothing is sent.
    guard = AddressGuard(["127.0.0.1"], resolver=Resolver(["127.0.0.1"]))
    with TMIClient(tls.url("https", "other.tls.test"), address_guard=guard, max_retries=0) as other:
        with pytest.raises(APIConnectionError):
            other.config()
    assert tls.server_names == ["tmi.tls.test", "other.tls.test"] and len(tls.requests) == 1


async def test_the_async_client_resolves_once_per_connection_too(sandbox, generation):
    resolver = Resolver(["127.0.0.1"], ["192.168.0.9"])
    guard = AddressGuard(["127.0.0.1"], resolver=resolver)
    url = sandbox.base_url.replace("127.0.0.1", "tmi.rebind.test")
    async with AsyncTMIClient(url, address_guard=guard, max_retries=0) as client:
        assert (await client.discovery()).generation == generation
        assert await client.auth.providers()
    # Another client on this loop reuses the checked connection (the loop's pool) while it is free...
    async with AsyncTMIClient(url, address_guard=guard, max_retries=0) as client:
        assert await client.auth.providers()
        assert resolver.asked == ["tmi.rebind.test"]
        # ...and a second connection, opened while that one is busy, is resolved and checked afresh.
        httpx.post(f"{sandbox.base_url}/_sandbox/faults", json={"path_prefix": "/", "latency_ms": 400, "times": 1})
        busy = asyncio.create_task(client.discovery())
        await asyncio.sleep(0.1)
        with pytest.raises(AddressNotAllowed):
            await client.discovery()
        assert (await busy).generation == generation
    assert resolver.asked == ["tmi.rebind.test"] * 2


# -- the collaboration socket ----------------------------------------------------------------------------
async def test_the_socket_refuses_what_the_guard_refuses_before_connecting(listener):
    for url in [listener.url("ws"), listener.url("ws", "localhost"), f"ws://u:p@127.0.0.1:{listener.port}/"]:
        with pytest.raises(AddressNotAllowed):
            await upstream_connect(url, guard=AddressGuard(["public"]))
    assert listener.accepted == 0


async def test_the_socket_connects_to_the_checked_address_with_the_name_as_host(listener):
    resolver = Resolver(["127.0.0.1"])
    with pytest.raises(Exception):  # noqa: B017 - the listener is no WebSocket server; what it received is the point
        await upstream_connect(
            listener.url("ws", "tmi.named.test") + "/ws",
            guard=AddressGuard(["127.0.0.1"], resolver=resolver),
            open_timeout=3,
        )
    assert resolver.asked == ["tmi.named.test"]
    assert listener.accepted == 1 and listener.host_headers() == [f"tmi.named.test:{listener.port}"]


async def test_the_socket_tries_the_next_checked_address_when_one_refuses(listener):
    resolver = Resolver(["127.0.0.2", "127.0.0.1"])
    with pytest.raises(Exception):  # noqa: B017 - the listener is no WebSocket server
        await upstream_connect(
            listener.url("ws", "tmi.twice.test") + "/ws",
            guard=AddressGuard(["127.0.0.0/8"], resolver=resolver),
            open_timeout=3,
        )
    assert resolver.asked == ["tmi.twice.test"] and listener.accepted == 1


async def test_the_socket_names_and_verifies_the_server_by_its_name_over_tls(listener_factory):
    server, client = tls_contexts("tmi.tls.test")
    tls = listener_factory(tls=server)
    guard = AddressGuard(["127.0.0.1"], resolver=Resolver(["127.0.0.1"]))
    with pytest.raises(InvalidStatus):  # the listener answers 200, not 101; it was reached over TLS by name
        await upstream_connect(tls.url("wss", "tmi.tls.test") + "/ws", guard=guard, ssl=client, open_timeout=3)
    assert tls.server_names == ["tmi.tls.test"] and tls.host_headers() == [f"tmi.tls.test:{tls.port}"]


@pytest.mark.parametrize("guarded", [True, False], ids=["guarded", "unguarded"])
async def test_the_socket_never_follows_a_redirect(listener_factory, guarded):
    target = listener_factory()
    redirector = listener_factory(redirect_to(target.url("ws") + "/ws"))
    with pytest.raises(InvalidStatus) as raised:
        await upstream_connect(
            redirector.url("ws") + "/ws", guard=AddressGuard(["127.0.0.1"]) if guarded else None, open_timeout=3
        )
    assert raised.value.response.status_code == 302
    assert redirector.accepted == 1 and target.accepted == 0


async def test_a_live_session_uses_the_guard_for_its_socket(sandbox_factory, generation):
    """Both generations: REST and the socket under one guard. The sandbox names its socket by its own
    address (127.0.0.1); the client knows it by a name the operator listed."""
    world = make_world(sandbox_factory, generation)
    url = world.server.base_url.replace("127.0.0.1", "tmi.named.test")
    me = User(**world.users["alice"].principal())

    async def start(allowed: list[str]) -> UpstreamSession:
        guard = AddressGuard(allowed, resolver=Resolver(["127.0.0.1"]))
        client = AsyncTMIClient(url, auth=world.tokens["alice"], max_retries=0, timeout=5, address_guard=guard)
        session = UpstreamSession(client, world.tm_id, world.diagram_id, me, delays=FAST)
        try:
            await session.start()
        except BaseException:
            await client.aclose()
            raise
        return session

    with pytest.raises(AddressNotAllowed):  # the name is listed; the socket's address is not
        await start(["tmi.named.test"])
    assert not world.state.sessions or all(not s.connections for s in world.state.sessions.values())
    session = await start(["tmi.named.test", "127.0.0.1"])
    try:
        assert session.live
    finally:
        await session.close()
        await session.client.aclose()
