"""The floor of the live-relay benchmark: the least a relay between a browser and TMI can add.

    python -m bench.live_floor --fd N

One process, plain `websockets` on asyncio, no framework: a client connects to `/?upstream=<TMI socket
URL>`, the relay opens that TMI socket (one upstream connection per client, as the bridge has) and moves
every text frame both ways. Like any relay that may not forward what it has not read (a hostile frame
must be refused, not passed on), it parses each frame as a JSON object and writes it out again; it does
nothing else: no sign-in, no translation, no bookkeeping. Run as a child of `python -m bench live` on a
listening socket passed down (`--fd`), so its CPU and memory are its own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed


async def _pipe(source, sink) -> None:
    with contextlib.suppress(ConnectionClosed):
        async for raw in source:
            message = json.loads(raw)
            if not isinstance(message, dict):
                continue
            await sink.send(json.dumps(message, separators=(",", ":")))


async def _relay(browser: ServerConnection) -> None:
    upstream_url = parse_qs(urlsplit(browser.request.path).query).get("upstream", [""])[0]
    if not upstream_url.startswith("ws://127.0.0.1:"):  # loopback only: the bench's own sandbox
        await browser.close(1008, "upstream must be a loopback TMI socket")
        return
    async with connect(upstream_url, ping_interval=None, max_size=None, compression=None) as tmi:
        up = asyncio.create_task(_pipe(browser, tmi))
        down = asyncio.create_task(_pipe(tmi, browser))
        await asyncio.wait([up, down], return_when=asyncio.FIRST_COMPLETED)
        for task in (up, down):
            task.cancel()
        await asyncio.gather(up, down, return_exceptions=True)


async def _serve(fd: int) -> None:
    sock = socket.socket(fileno=fd)
    # No compression on either side, as daphne (to browsers) and TMI (upstream) have none.
    async with serve(_relay, sock=sock, ping_interval=None, max_size=None, compression=None) as server:
        print("floor relay listening", flush=True)
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.live_floor")
    parser.add_argument("--fd", type=int, required=True, help="a listening socket, inherited")
    asyncio.run(_serve(parser.parse_args().fd))


if __name__ == "__main__":
    main()
