"""Every way a live socket can end leaves nothing behind: through a real daphne (autobahn's close-code
rules, its message-size limit, a peer that vanishes), with a real session cookie and the `websockets`
client, in both TMI generations.

One person repeats each crash path six times. TMI allows 5 sockets per user (PROTOCOL.md 7.1), so a
single leaked upstream socket per round would lock them out of every live diagram; after every round
a fresh join must still get `welcome` and `state`, no LiveConnection row may remain, and the sandbox
must hold no collaboration socket of theirs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from portal.live.bridge import STRIKES_BURST
from portal.live.closes import CLOSES
from portal.live.endings import WORDS
from portal.tmi.collab import frames
from tests.browser.live_server import ROOT, DaphneServer
from tests.live.conftest import live_path, nothing_left

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS = 6
DAPHNE_MAX_MESSAGE = 1024 * 1024  # daphne's --websocket-max-message-size default, which the portal keeps
CLOSE_DROPPED = 1006  # what a client reports when the connection ended without a close frame
PORTAL_CLOSES = {1000} | set(range(4000, 5000))  # what autobahn lets an application send (it raises otherwise)


@pytest.fixture(scope="module")
def daphne_server(django_db_setup, django_db_blocker) -> Iterator[DaphneServer]:
    """One real daphne for this module, on the test database (a browser-marked, slow fixture)."""
    with django_db_blocker.unblock(), DaphneServer(ROOT / "test-artifacts" / "live" / "daphne.log") as server:
        yield server


class Page:
    """One browser tab's socket through daphne, as the `websockets` client sees it."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def next(self, timeout: float = 10.0) -> dict[str, Any]:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def until(self, frame_type: str, timeout: float = 10.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while (frame := await self.next()).get("type") != frame_type:
                pass
        return frame

    async def close_code(self, timeout: float = 10.0) -> int | None:
        """Read until the server closes; its close code (None: no close frame)."""
        with contextlib.suppress(ConnectionClosed):
            async with asyncio.timeout(timeout):
                while True:
                    await self.ws.recv()
        return self.ws.close_code


@pytest.fixture
def portal(daphne_server, world, acme, cookies):
    """`async with portal.page("alice") as page`: alice's live page through daphne."""

    class Portal:
        url = daphne_server.url

        @contextlib.asynccontextmanager
        async def page(self, name: str = "alice"):
            url = self.url.replace("http://", "ws://") + live_path(world)
            async with connect(
                url,
                origin=self.url,
                additional_headers={"Cookie": f"sessionid={cookies[name]}"},
                max_size=None,
                open_timeout=10,
                close_timeout=2,
            ) as ws:
                yield Page(ws)

        def log(self) -> str:
            return daphne_server.log()

    return Portal()


async def fresh_join(portal, world, when: str) -> None:
    """The same person can still go live: `welcome`, then `state`; then leaves normally."""
    async with portal.page() as page:
        welcome = await page.until("welcome")
        assert welcome["me"]["id"] == "alice", when
        await page.until("state")
    await nothing_left(world, f"{when}, after the fresh join")


async def six_rounds(portal, world, crash) -> list[int | None]:
    codes, log_start = [], len(portal.log())
    for round_ in range(1, ROUNDS + 1):
        when = f"round {round_}"
        codes.append(await crash(round_))
        await nothing_left(world, when)
        await fresh_join(portal, world, when)
    assert "Exception inside application" not in portal.log()[log_start:]  # daphne's 1011
    return codes


# -- (a) a frame that made json.loads raise RecursionError --------------------------------------------
async def test_deeply_nested_frames_are_refused_and_the_socket_lives_on(portal, world):
    async def crash(round_: int) -> int | None:
        async with portal.page() as page:
            await page.until("state")
            await page.ws.send("[" * 10_240 if round_ % 2 else '{"a":' * 2_048)
            error = await page.until("error")
            assert error["code"] == "too_deep" and str(frames.MAX_DEPTH) in error["message"], error
            await page.ws.send(json.dumps({"type": "resync"}))  # the socket still works
            await page.until("state")
        return page.ws.close_code

    assert await six_rounds(portal, world, crash) == [1000] * ROUNDS  # the client's own close


# -- (b) a policy refusal that closes the socket ----------------------------------------------------
async def test_a_flood_of_refused_frames_closes_with_a_valid_code(portal, world):
    async def crash(round_: int) -> int | None:
        async with portal.page() as page:
            await page.until("state")
            for _ in range(int(STRIKES_BURST) + 5):
                await page.ws.send("{not json")
            ended = await page.until("ended")
            assert ended == {"type": "ended", "reason": "too_many_errors", "message": WORDS["too_many_errors"]}
            return await page.close_code()

    assert await six_rounds(portal, world, crash) == [CLOSES["policy"].code] * ROUNDS


# -- (c) a frame over daphne's message-size limit ---------------------------------------------------
async def test_a_frame_over_daphnes_limit_drops_only_that_socket(portal, world):
    """autobahn drops the TCP connection on a message over daphne's limit (its failByDrop default), so
    the client sees 1006 and no close frame; the consumer still hears `websocket.disconnect` and leaves
    TMI. (The page itself never sends a frame over frames.MAX_FRAME_BYTES; docs/live-protocol.md.)"""

    async def crash(round_: int) -> int | None:
        async with portal.page() as page:
            await page.until("state")
            pad = "x" * DAPHNE_MAX_MESSAGE
            with contextlib.suppress(ConnectionClosed):
                await page.ws.send(json.dumps({"type": "ops", "operation_id": str(uuid.uuid4()), "pad": pad}))
            return await page.close_code()

    assert await six_rounds(portal, world, crash) == [CLOSE_DROPPED] * ROUNDS


# -- (d) the client vanishes without a close handshake ------------------------------------------------
async def test_a_client_that_vanishes_leaves_nothing_behind(portal, world):
    async def crash(round_: int) -> int | None:
        async with portal.page() as page:
            if round_ % 2 == 0:  # live; on odd rounds the bridge is still starting
                await page.until("state")
            page.ws.transport.abort()  # no close frame, the TCP connection just ends
        return None

    await six_rounds(portal, world, crash)


def test_every_close_the_portal_makes_is_one_autobahn_accepts():
    assert {close.code for close in CLOSES.values()} <= PORTAL_CLOSES
    assert frames.MAX_FRAME_BYTES < DAPHNE_MAX_MESSAGE  # a frame in between gets an `error`, not a close
