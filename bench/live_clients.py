"""The simulated participants of the live-relay benchmark, and the rounds they play.

Two kinds of seat speak to the same rooms: a `BrowserSeat` is a browser on the live diagram page (a
socket to the portal with its session cookie, speaking docs/live-protocol.md), a `DirectSeat` is a
raw TMI client connected straight to TMI's collaboration socket (PROTOCOL.md 7; 9.5 for 0.217). In each
round one seat per room moves the room's node; every other seat in the room records how long the
change took to reach it. Operation ids identify the changes, so no clock travels in the messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.live_world import DaphneProcess, FloorProcess, Person, Room
from portal.tmi import AsyncTMIClient
from portal.tmi.errors import NotFound

OPEN_TIMEOUT = 120.0  # under a 1,000-browser connect storm the first frames can take a while


class SetupFailed(RuntimeError):
    pass


@dataclass
class Meter:
    """Send times by operation id, and the latencies of every delivery to another seat. Every change
    sent has a sequence number: a seat that sees a change older than one it has seen already counts one
    reordered delivery."""

    latencies: list[float] = field(default_factory=list)
    pending: dict[str, tuple[float, int, int, bool]] = field(default_factory=dict)
    expected: int = 0
    received: int = 0
    reordered: int = 0
    late: int = 0  # delivered after its round had given up waiting (counted, not timed)
    sent_count: int = 0
    last_seen: dict[int, int] = field(default_factory=dict)
    refusals: list[str] = field(default_factory=list)
    recording: bool = True
    round_first_sent: int = 0
    _done: asyncio.Event = field(default_factory=asyncio.Event)

    def round_start(self, expected: int) -> None:
        self.expected, self.received = expected, 0
        self.round_first_sent = self.sent_count  # changes numbered up to this belong to earlier rounds
        self._done.clear()

    def sent(self, operation_id: str, seat_id: int) -> None:
        self.sent_count += 1
        self.pending[operation_id] = (time.perf_counter(), seat_id, self.sent_count, self.recording)

    def seen(self, operation_id: str, seat_id: int) -> None:
        now = time.perf_counter()
        sent = self.pending.get(operation_id)
        if sent is None or sent[1] == seat_id:  # not ours to time, or the sender's own echo
            return
        if sent[2] < self.last_seen.get(seat_id, 0):
            self.reordered += 1
        self.last_seen[seat_id] = max(sent[2], self.last_seen.get(seat_id, 0))
        if sent[2] <= self.round_first_sent:
            self.late += sent[3]
            return
        if self.recording:
            self.latencies.append(now - sent[0])
        self.received += 1
        if self.received >= self.expected:
            self._done.set()

    def refused(self, detail: str) -> None:
        self.refusals.append(detail)

    async def round_wait(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._done.wait(), timeout)


class Seat:
    """One connected participant. Subclasses open the socket and speak their protocol."""

    ops_types: tuple[str, ...] = ()

    def __init__(self, seat_id: int, person: Person, room: Room, meter: Meter) -> None:
        self.seat_id, self.person, self.room, self.meter = seat_id, person, room, meter
        self.ws: ClientConnection | None = None
        self.reader: asyncio.Task | None = None
        self.ended: str | None = None

    async def open(self) -> None:
        raise NotImplementedError

    def ops_message(self, operation_id: str, cell: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def on_frame(self, frame: dict[str, Any]) -> None:
        raise NotImplementedError

    async def _until(self, wanted: tuple[str, ...], key: str) -> None:
        """Read frames until one of the `wanted` types (the initial diagram)."""
        while True:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), OPEN_TIMEOUT))
            if frame.get(key) in wanted:
                return
            if frame.get("type") == "ended" or frame.get("message_type") == "error":
                raise SetupFailed(f"{self.person.hint}: {frame}")

    def listen(self) -> None:
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for raw in self.ws:
                self.on_frame(json.loads(raw))

    async def send_ops(self, operation_id: str, cell: dict[str, Any]) -> None:
        self.meter.sent(operation_id, self.seat_id)
        await self.ws.send(json.dumps(self.ops_message(operation_id, cell), separators=(",", ":")))

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 10)
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader


class BrowserSeat(Seat):
    """The live page's socket to the portal: session cookie, an Origin the portal allows."""

    def __init__(self, seat_id: int, person: Person, room: Room, meter: Meter, daphne: DaphneProcess) -> None:
        super().__init__(seat_id, person, room, meter)
        self.daphne = daphne

    async def open(self) -> None:
        self.ws = await connect(
            self.daphne.socket_url(self.room),
            origin=self.daphne.origin,
            additional_headers={"Cookie": f"sessionid={self.person.session_key}"},
            open_timeout=OPEN_TIMEOUT,
            ping_interval=None,
            max_size=None,
        )
        await self._until(("state",), "type")

    def ops_message(self, operation_id: str, cell: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "ops",
            "operation_id": operation_id,
            "cells": [{"id": cell["id"], "operation": "update", "data": cell}],
        }

    def on_frame(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "ops":
            self.meter.seen(frame.get("operation_id", ""), self.seat_id)
        elif kind in ("rejected", "error", "ended"):
            self.meter.refused(f"{kind}: {frame.get('reason') or frame.get('code')}")
            if kind == "ended":
                self.ended = frame.get("reason")


class DirectSeat(Seat):
    """A raw TMI client: start or join over REST, then TMI's own socket (a ticket at 1.8, the token at
    0.217), the same path the bridge takes upstream, without the portal in between."""

    def __init__(self, seat_id: int, person: Person, room: Room, meter: Meter, base_url: str, generation: str) -> None:
        super().__init__(seat_id, person, room, meter)
        self.base_url, self.generation = base_url, generation

    async def open(self) -> None:
        async with AsyncTMIClient(self.base_url, auth=self.person.tokens) as tmi:
            for attempt in range(3):
                try:
                    await self._join(tmi)
                    return
                except (NotFound, ConnectionClosed):
                    # TMI's cleanup removes a session nobody has joined yet, even one just started
                    # (PROTOCOL.md 6.5), so a join racing it is refused: start or join again, as the
                    # bridge does.
                    if attempt == 2:
                        raise
                    if self.ws is not None:
                        await self.ws.close()

    async def _join(self, tmi: AsyncTMIClient) -> None:
        session = await tmi.collaboration.start_or_join(self.room.threat_model_id, self.room.diagram_id)
        url = await tmi.collaboration.websocket_url(session)
        self.ws = await connect(self.socket_url(url), open_timeout=OPEN_TIMEOUT, ping_interval=None, max_size=None)
        await self._until(("diagram_state", "diagram_state_sync"), "message_type")

    def socket_url(self, tmi_url: str) -> str:
        return tmi_url

    def ops_message(self, operation_id: str, cell: dict[str, Any]) -> dict[str, Any]:
        operation = {"type": "patch", "cells": [{"id": cell["id"], "operation": "update", "data": cell}]}
        if self.generation == "0.217":
            # 0.217 relays initiating_user as sent (9.5); the bridge sends the member's own identity too.
            return {
                "message_type": "diagram_operation",
                "operation_id": operation_id,
                "operation": operation,
                "initiating_user": self.person.tmi_user(),
            }
        return {"message_type": "diagram_operation_request", "operation_id": operation_id, "operation": operation}

    def on_frame(self, frame: dict[str, Any]) -> None:
        kind = frame.get("message_type")
        if kind in ("diagram_operation_event", "diagram_operation"):
            self.meter.seen(frame.get("operation_id", ""), self.seat_id)
        elif kind in ("operation_rejected", "authorization_denied", "error"):
            self.meter.refused(f"{kind}: {frame.get('reason') or frame.get('error')}")


class FloorSeat(DirectSeat):
    """A raw TMI client whose socket goes through the floor relay (bench/live_floor.py) instead of
    straight to TMI: the same frames, one bare hop in between."""

    def __init__(
        self,
        seat_id: int,
        person: Person,
        room: Room,
        meter: Meter,
        base_url: str,
        generation: str,
        floor: FloorProcess,
    ) -> None:
        super().__init__(seat_id, person, room, meter, base_url, generation)
        self.floor = floor

    def socket_url(self, tmi_url: str) -> str:
        return self.floor.relay_url(tmi_url)


async def seats_open(seats: list[Seat], *, concurrency: int, progress: Callable[[str, int, int], None]) -> None:
    """Open every seat, `concurrency` at a time, so neither TMI's OAuth and REST nor the portal's
    connect path is flooded; then start reading."""
    gate = asyncio.Semaphore(concurrency)
    done = 0

    async def one(seat: Seat) -> None:
        nonlocal done
        async with gate:
            await seat.open()
        seat.listen()
        done += 1
        progress("connected", done, len(seats))

    results = await asyncio.gather(*(one(seat) for seat in seats), return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        await seats_close(seats)
        raise SetupFailed(f"{len(failures)} of {len(seats)} could not connect; the first: {failures[0]!r}")


async def seats_close(seats: list[Seat]) -> None:
    await asyncio.gather(*(seat.close() for seat in seats))


@dataclass
class RoundsResult:
    latencies: list[float]
    deliveries: int
    expected: int
    seconds: float
    refusals: list[str]
    late: int = 0
    reordered: int = 0

    @property
    def lost(self) -> int:
        """Changes that never reached a seat (a late one reached it; warm-up rounds are not counted)."""
        return max(0, self.expected - self.deliveries - self.late)


def _moved(node: dict[str, Any], round_no: int) -> dict[str, Any]:
    return {**node, "position": {"x": 100 + (round_no * 7) % 400, "y": 80 + (round_no * 13) % 300}}


async def rounds_play(
    rooms_seats: list[list[Seat]], meter: Meter, *, rounds: int, warmup: int, interval: float, timeout: float
) -> RoundsResult:
    """`warmup` unmeasured rounds, then `rounds` measured ones. In a round every room's next seat moves
    the room's node (all rooms at once); the round ends when every other seat has seen its room's change
    (or after `timeout`), then `interval` passes before the next."""
    per_round = sum(len(seats) - 1 for seats in rooms_seats)
    # The clock must not stop itself: a full collection in this process (up to 80 ms with a thousand seats)
    # would be timed as relay latency. Collected before, none during (as timeit does).
    gc.collect()
    gc.disable()
    try:
        return await _rounds_play(rooms_seats, meter, rounds, warmup, interval, timeout, per_round)
    finally:
        gc.enable()


async def _rounds_play(
    rooms_seats: list[list[Seat]],
    meter: Meter,
    rounds: int,
    warmup: int,
    interval: float,
    timeout: float,
    per_round: int,
) -> RoundsResult:
    measured_seconds, deliveries = 0.0, 0
    for round_no in range(warmup + rounds):
        meter.recording = round_no >= warmup
        meter.round_start(per_round)
        started = time.perf_counter()
        for seats in rooms_seats:
            sender = seats[round_no % len(seats)]
            await sender.send_ops(str(uuid.uuid4()), _moved(sender.room.node, round_no))
        await meter.round_wait(timeout)
        if meter.recording:
            measured_seconds += time.perf_counter() - started
            deliveries += meter.received
        await asyncio.sleep(interval)
    return RoundsResult(
        list(meter.latencies),
        deliveries,
        per_round * rounds,
        measured_seconds,
        list(meter.refusals),
        late=meter.late,
        reordered=meter.reordered,
    )
