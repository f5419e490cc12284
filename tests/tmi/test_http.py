"""The client's transport over real sockets: which connections to TMI it keeps, and when it lets them go."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import httpx

from portal.tmi import AsyncTMIClient
from portal.tmi.addresses import AddressGuard


def established_to(port: int) -> int:
    """Open TCP connections from this machine to `port` on loopback (Linux's table of sockets)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                if fields[3] == "01" and int(fields[2].rsplit(":", 1)[1], 16) == port:  # 01: ESTABLISHED
                    count += 1
    return count


def guarded_client(sandbox) -> AsyncTMIClient:
    return AsyncTMIClient(sandbox.base_url, address_guard=AddressGuard(["127.0.0.1"]), timeout=10)


async def test_idle_close_lets_the_kept_alive_connection_go_and_the_next_call_opens_another(sandbox):
    port = urlsplit(sandbox.base_url).port
    before = established_to(port)
    async with guarded_client(sandbox) as client:
        await client.discovery()
        assert established_to(port) == before + 1  # kept alive for the next call
        await client.idle_close()
        assert established_to(port) == before
        assert (await client.discovery()).generation == sandbox.config.generation
        assert established_to(port) == before + 1


async def test_idle_close_leaves_a_connection_a_call_is_using(sandbox):
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
