"""The portal served by a real daphne in a child process, against the test database.

As Channels' ChannelsLiveServerTestCase does it (daphne in a separate process, pointed at the test
database), but as a plain context manager for pytest fixtures. The parent binds the listening
socket and hands it to daphne (`--fd`), so the port is known before daphne starts and no other
process can take it in between.
"""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.db import connection

from portal.devtools.processes import Child

ROOT = Path(__file__).resolve().parents[2]


def collect_static(env: dict[str, str]) -> None:
    """collectstatic into the one STATIC_ROOT, one test process at a time (pytest-xdist workers start their
    own daphne): two copying the same files at once can leave a half-written manifest."""
    with open(ROOT / ".staticfiles.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
        )


def tests_database_url() -> str:
    """A DATABASE_URL naming the test database pytest-django created, so the server's settings
    (read from the environment, as in production) open the same database as the tests."""
    name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        # The test database is a file (settings.py), which a second process can open.
        return f"sqlite:///{name}"
    configured = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(configured._replace(path=f"/{name}"))


class DaphneServer:
    """`with DaphneServer(log_path) as server: server.url` serves portal.asgi:application."""

    def __init__(self, log_path: Path, *, host: str = "127.0.0.1", startup_timeout: float = 60.0) -> None:
        self.host = host
        worker = os.environ.get("PYTEST_XDIST_WORKER")  # each test process's daphne writes a log of its own
        self.log_path = log_path.with_name(f"{log_path.stem}-{worker}{log_path.suffix}") if worker else log_path
        self.startup_timeout = startup_timeout
        self._sock: socket.socket | None = None
        self._child: Child | None = None
        self.url = ""

    def __enter__(self) -> DaphneServer:
        # Configured as in production (DEBUG off: the real error pages, static files collected and
        # served by WhiteNoise), except for the database.
        env = {**os.environ, "DATABASE_URL": tests_database_url(), "DJANGO_DEBUG": "false", "PYTHONUNBUFFERED": "1"}
        # The server keeps Django's async-safety check, whatever the test process relaxed.
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        collect_static(env)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit it: no answer waits on the client's delayed ACK (40 ms a request).
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock.bind((self.host, 0))
        self._sock.listen(128)
        self.url = f"http://{self.host}:{self._sock.getsockname()[1]}"
        fd = self._sock.fileno()
        self._child = Child(
            "daphne",
            [sys.executable, "-m", "daphne", "--fd", str(fd), "-v", "1", "portal.asgi:application"],
            ready_url=f"{self.url}/healthz/",
            pass_fds=(fd,),
            log_path=self.log_path,
        )
        try:
            self._child.start(env)
            self._child.wait_ready(timeout=self.startup_timeout)
        except BaseException as error:
            self.__exit__(None, None, None)
            raise RuntimeError(f"{error}; daphne's log:\n{self.log()}") from error
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __exit__(self, *exc_info) -> None:
        if self._child is not None:
            self._child.stop()
        if self._sock is not None:
            self._sock.close()
