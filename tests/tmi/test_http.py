"""The client's transport over real sockets: which connections to TMI it keeps, shares, and lets go."""

from __future__ import annotations

import asyncio
import os
import time
from urllib.parse import urlsplit

import httpx

from portal.tmi import AsyncTMIClient, _http
from portal.tmi.addresses import AddressGuard


def established_to(port: int) -> int:
    """Open TCP connections from this process to `port` on loopback (Linux's table of sockets).

    Only this process's sockets count: another process on the machine (a parallel test worker, a daphne a
    live test started) may hold one whose peer happens to use the same port number."""
    ours = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed since it was listed
            continue
        if target.startswith("socket:["):
            ours.add(target[len("socket:[") : -1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                established = fields[3] == "01"
                if established and int(fields[2].rsplit(":", 1)[1], 16) == port and fields[9] in ours:
                    count += 1
    return count


def guarded_client(sandbox) -> AsyncTMIClient:
    return AsyncTMIClient(sandbox.base_url, address_guard=AddressGuard(["127.0.0.1"]), timeout=10)


async def test_clients_on_one_event_loop_share_its_kept_alive_connection(sandbox):
    port = urlsplit(sandbox.base_url).port
    before = established_to(port)
    async with guarded_client(sandbox) as client:
        await client.discovery()
        assert established_to(port) == before + 1  # kept alive for the next call, whoever makes it
        await client.idle_close()  # not this client's to close
    assert established_to(port) == before + 1  # nor closed with the client
    async with guarded_client(sandbox) as client:
        assert (await client.discovery()).generation == sandbox.config.generation
        assert established_to(port) == before + 1  # the same connection


async def test_a_connection_in_use_is_not_shared_another_is_opened(sandbox):
    port = urlsplit(sandbox.base_url).port
    async with guarded_client(sandbox) as first, guarded_client(sandbox) as second:
        await first.discovery()
        before = established_to(port)
        httpx.post(f"{sandbox.base_url}/_sandbox/faults", json={"path_prefix": "/", "latency_ms": 400, "times": 1})
        call = asyncio.create_task(first.discovery())
        await asyncio.sleep(0.2)
        assert not call.done()  # waiting for TMI's answer on the kept-alive connection
        assert (await second.discovery()).generation == sandbox.config.generation
        assert established_to(port) == before + 1
        assert (await call).generation == sandbox.config.generation


async def test_on_a_loop_that_keeps_no_pool_a_client_has_its_own_and_idle_close_lets_it_go(sandbox, monkeypatch):
    monkeypatch.setattr(_http, "loop_pool", lambda guard: None)
    port = urlsplit(sandbox.base_url).port
    before = established_to(port)
    async with guarded_client(sandbox) as client:
        await client.discovery()
        assert established_to(port) == before + 1
        await client.idle_close()
        assert established_to(port) == before
        assert (await client.discovery()).generation == sandbox.config.generation
        assert established_to(port) == before + 1
    assert established_to(port) == before  # closed with its client


async def test_idle_close_leaves_a_connection_a_call_is_using(sandbox, monkeypatch):
    monkeypatch.setattr(_http, "loop_pool", lambda guard: None)
    port = urlsplit(sandbox.base_url).port
    httpx.post(f"{sandbox.base_url}/_sandbox/faults", json={"path_prefix": "/", "latency_ms": 400, "times": 1})
    async with guarded_client(sandbox) as client:
        before = established_to(port)
        call = asyncio.create_task(client.discovery())
        await asyncio.sleep(0.2)
        assert not call.done()  # waiting for TMI's answer
        assert established_to(port) == before + 1
        await client.idle_close()
        assert (await call).generation == sandbox.config.generation
        assert established_to(port) == before + 1


async def test_a_kept_alive_connection_the_server_closed_is_not_used_again():
    """httpcore asks each kept connection whether the server has closed it before reusing it; the transport's
    streams answer from the socket found at connect time."""
    accepted = 0

    async def answer_once_then_close(reader, writer):
        nonlocal accepted
        accepted += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.close()  # as a server whose keep-alive ran out

    server = await asyncio.start_server(answer_once_then_close, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport = _http.AsyncGuardedTransport(AddressGuard(["127.0.0.1"]))
    try:
        async with httpx.AsyncClient(transport=transport) as client:
            for _ in range(3):
                response = await client.get(f"http://127.0.0.1:{port}/")
                assert response.text == "ok"
                await asyncio.sleep(0.2)  # the server has closed it by now
    finally:
        server.close()
        await server.wait_closed()
    assert accepted == 3


async def test_streams_still_answer_what_httpcore_asks_of_them(sandbox):
    async with guarded_client(sandbox) as client:
        await client.discovery()
        pool = _http.loop_pool(client.address_guard)
        (connection,) = [c for c in pool.connections if c.is_idle()]
        stream = connection._connection._network_stream
        assert isinstance(stream, _http._KnownSocketStream)
        assert stream.get_extra_info("is_readable") is False
        assert stream.get_extra_info("server_addr")[0] == "127.0.0.1"


async def test_an_idle_connection_found_open_is_not_asked_again_for_a_moment(sandbox, monkeypatch):
    asked = []
    real = _http._readable
    monkeypatch.setattr(_http, "_readable", lambda sock: asked.append(sock) or real(sock))
    monkeypatch.setattr(_http._KnownSocketStream, "QUIET_SECONDS", 60.0)  # no timing in this test
    async with guarded_client(sandbox) as client:
        await client.discovery()
        (connection,) = [c for c in _http.loop_pool(client.address_guard).connections if c.is_idle()]
        stream = connection._connection._network_stream
        asked.clear()
        stream.quiet_until = 0.0
        assert [stream.get_extra_info("is_readable") for _ in range(5)] == [False] * 5
        assert len(asked) == 1  # one poll of the socket for the burst
        await client.discovery()  # the connection is used: the pool's check after it asks the socket again
        assert len(asked) == 2
        assert stream.get_extra_info("is_readable") is False and len(asked) == 2
        stream.quiet_until = time.monotonic() - 1  # the moment is over
        assert stream.get_extra_info("is_readable") is False and len(asked) == 3
