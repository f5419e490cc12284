"""Run the sandbox: in the foreground (management command) or in a thread (tests, demo)."""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import replace

import httpx
import uvicorn

from portal.sandbox.config import SandboxConfig


def _bind(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP named, not 0: asyncio turns Nagle's algorithm off only on sockets that say they are TCP.
    # With it on, every answer's body waited for the client's delayed ACK: 40 ms a call, which TMI (Go) never adds.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


class SandboxServer:
    """A sandbox listening on a real loopback socket. `port=0` picks a free port."""

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
        public_url: str | None = None,
    ) -> None:
        self._sock = _bind(host, port)
        bound_port = self._sock.getsockname()[1]
        # Behind Docker or a proxy the address clients use differs from the bound one.
        base = (public_url or f"http://{host}:{bound_port}").rstrip("/")
        self.config = replace(config or SandboxConfig(), base_url=base)
        self.base_url = base

        from portal.sandbox.app import create_app

        self.app = create_app(self.config)
        self._host, self._port, self._log_level = host, bound_port, log_level
        self._server = self._uvicorn()
        self._thread: threading.Thread | None = None

    def _uvicorn(self) -> uvicorn.Server:
        return uvicorn.Server(
            uvicorn.Config(
                self.app,
                log_level=self._log_level,
                lifespan="on",
                ws_max_size=65536,
                # TMI's upgrader (gorilla/websocket) leaves compression off, so a real TMI never agrees to
                # permessage-deflate; uvicorn would.
                ws_per_message_deflate=False,
                ws_ping_interval=None,
                ws_ping_timeout=None,
                timeout_graceful_shutdown=1,
                # TMI keeps an idle connection 60 s (its server idle timeout); uvicorn's default is 5 s.
                timeout_keep_alive=60,
            )
        )

    @property
    def state(self):
        return self.app.state.sandbox

    def serve_forever(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._sock]))

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(target=self.serve_forever, name="tmi-sandbox", daemon=True)
        self._thread.start()
        deadline = threading.Event()
        for _ in range(500):
            if self._server.started:
                break
            deadline.wait(0.01)
        if not self._server.started:
            raise RuntimeError("TMI sandbox did not start")
        return self

    @property
    def running(self) -> bool:
        return self._server.started and not self._server.should_exit

    def stop_soon(self) -> None:
        """Ask it to stop, without waiting (stop() waits)."""
        self._server.should_exit = True

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._sock.close()

    def reset(self) -> SandboxServer:
        """Back to how it started (seed, no faults, clock, sessions and sockets), through its control call."""
        httpx.post(f"{self.base_url}/_sandbox/reset", timeout=10).raise_for_status()
        return self

    def restart(self, *, down_seconds: float = 0.0) -> SandboxServer:
        """Stop and start again on the same port, as a TMI restart: the stored data survives, the
        in-memory collaboration sessions and tickets do not (PROTOCOL.md 6)."""
        self.stop()
        self.state.sessions.clear()
        self.state.collab = None
        threading.Event().wait(down_seconds)
        self._sock = _bind(self._host, self._port)
        self._server = self._uvicorn()
        return self.start()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
