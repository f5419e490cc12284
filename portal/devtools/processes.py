"""Start and supervise the demo's processes: each is a child that dies with the demo."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx


@dataclass
class Child:
    name: str
    argv: list[str]
    ready_url: str | None = None
    # Inherited listening sockets (daphne --fd), and where output goes (None: this terminal).
    pass_fds: tuple[int, ...] = ()
    log_path: Path | None = None
    process: subprocess.Popen | None = field(default=None, repr=False)

    def start(self, env: dict[str, str]) -> None:
        output = None
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            output = self.log_path.open("wb")
        try:
            # A new process group, so stopping the demo also stops what each child spawned.
            self.process = subprocess.Popen(
                self.argv,
                env=env,
                start_new_session=True,
                pass_fds=self.pass_fds,
                stdout=output,
                stderr=subprocess.STDOUT if output else None,
            )
        finally:
            if output is not None:
                output.close()

    def wait_ready(self, timeout: float = 60.0) -> None:
        if self.ready_url is None:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with code {self.process.returncode} while starting")
            try:
                if httpx.get(self.ready_url, timeout=1.0).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} was not ready at {self.ready_url} within {timeout:.0f} s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def free_port(host: str = "127.0.0.1") -> int:
    """A port free right now (another process may take it before we bind it: fine for dev tools)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def manage_py(*args: str) -> list[str]:
    from django.conf import settings

    return [sys.executable, str(settings.BASE_DIR / "manage.py"), *args]


def supervise(children: list[Child], *, env: dict[str, str], on_ready) -> int:
    """Start every child in order, call on_ready, then wait until Ctrl-C or a child dies."""

    def stop_on_sigterm(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_on_sigterm)
    try:
        for child in children:
            child.start(env)
            child.wait_ready()
        on_ready()
        while True:
            for child in children:
                if child.process is not None and child.process.poll() is not None:
                    print(f"{child.name} stopped (exit code {child.process.returncode}); stopping the demo.")
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nStopping the demo.")
        return 0
    finally:
        for child in reversed(children):
            child.stop()
