"""Start and supervise the demo's processes: each is a child that dies with the demo."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

# A line a process prints for the person at the demo's terminal (an email's summary, portal/devtools/demo_mail.py):
# the supervisor prints it there without the mark; every other line goes to the process's log file only.
TERMINAL_MARK = "[terminal] "
TERMINAL_LINE_MAX = 500  # characters; the whole line stays in the log file
_LEVEL = re.compile(r"\b(ERROR|CRITICAL)\b")


class TerminalFilter:
    """Which of a child's output lines a person at the demo's terminal needs: what is marked for it, and
    errors, a traceback shortened to its last line (the whole of it is in the log file). Start-up banners,
    requests, static files, sockets and the scheduler's ticks stay in the log file."""

    def __init__(self, name: str, log_path: Path) -> None:
        self.name, self.log_path = name, log_path
        self.in_traceback = False

    def feed(self, line: str) -> str | None:
        line = line.rstrip("\r\n")
        if line.startswith(TERMINAL_MARK):
            return self._shown(line[len(TERMINAL_MARK) :])
        if self.in_traceback:
            if not line.strip() or line[:1] in (" ", "\t"):
                return None
            self.in_traceback = False
            return self._shown(f"{self.name}: {line} (the traceback is in {self.log_path})")
        if line.startswith("Traceback (most recent call last)"):
            self.in_traceback = True
            return None
        if _LEVEL.search(line[:80]):
            return self._shown(f"{self.name}: {line}")
        return None

    def _shown(self, line: str) -> str:
        if len(line) <= TERMINAL_LINE_MAX:
            return line
        return f"{line[: TERMINAL_LINE_MAX - 30]}… (whole line in {self.log_path.name})"


_terminal_lock = threading.Lock()


class ChildFailed(RuntimeError):
    """A child exited, or did not answer, while starting."""


@dataclass
class Child:
    name: str
    argv: list[str]
    ready_url: str | None = None
    # Inherited listening sockets (daphne --fd), and where output goes (None: this terminal).
    pass_fds: tuple[int, ...] = ()
    log_path: Path | None = None
    # With log_path: also print to this terminal what TerminalFilter lets through, until stop().
    to_terminal: bool = False
    process: subprocess.Popen | None = field(default=None, repr=False)
    _quiet: threading.Event = field(default_factory=threading.Event, repr=False)
    _copier: threading.Thread | None = field(default=None, repr=False)

    def start(self, env: dict[str, str]) -> None:
        output = None
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            output = self.log_path.open("wb")
        piped = output is not None and self.to_terminal
        try:
            # A new process group, so stopping the demo also stops what each child spawned.
            self.process = subprocess.Popen(
                self.argv,
                env=env,
                start_new_session=True,
                pass_fds=self.pass_fds,
                stdout=subprocess.PIPE if piped else output,
                stderr=subprocess.STDOUT if output else None,
            )
        except BaseException:
            if output is not None:
                output.close()
            raise
        if piped:
            self._copier = threading.Thread(target=self._copy, args=(output,), name=f"{self.name} output", daemon=True)
            self._copier.start()
        elif output is not None:
            output.close()

    def _copy(self, log) -> None:
        """Every line to the log file, and what a person needs to this terminal."""
        terminal = TerminalFilter(self.name, self.log_path)
        with log:
            for raw in iter(self.process.stdout.readline, b""):
                log.write(raw)
                log.flush()
                shown = terminal.feed(raw.decode("utf-8", errors="replace"))
                if shown is not None and not self._quiet.is_set():
                    with _terminal_lock:
                        print(shown, flush=True)

    def wait_ready(self, timeout: float = 60.0) -> None:
        if self.ready_url is None:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ChildFailed(
                    f"{self.name} exited with code {self.process.returncode} while starting{self._see_log()}"
                )
            try:
                if httpx.get(self.ready_url, timeout=1.0).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise ChildFailed(f"{self.name} was not ready at {self.ready_url} within {timeout:.0f} s{self._see_log()}")

    def _see_log(self) -> str:
        return f" (its log: {self.log_path})" if self.log_path is not None else ""

    def stop(self) -> None:
        children_stop([self])

    def _terminate(self) -> None:
        """SIGTERM to the child itself, which stops what it started (a Celery worker its pool: a signal to
        the whole group would have the pool's processes die under it, which it reports as errors). What it
        prints while stopping stays in its log file."""
        self._quiet.set()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def _finish(self) -> None:
        """Whatever is left of its group is killed (a worker still busy with an export: the job is delivered
        again when a worker next starts, as after any worker lost mid-export)."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait(timeout=10)
        if self._copier is not None:
            # Its last lines are in the pipe already; a process of its group that outlived the kill must not
            # hold the demo (the copier is a daemon thread: it ends with the demo).
            self._copier.join(timeout=2)


# How long the children have, together, to stop by themselves before what is left is killed.
STOP_GRACE_SECONDS = 10.0


def children_stop(children: list[Child]) -> None:
    """All at once: each is asked to stop, all are given STOP_GRACE_SECONDS together, then the rest killed
    (one after another, four children could take a minute on a busy machine)."""
    for child in children:
        child._terminate()
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for child in children:
        if child.process is not None:
            try:
                child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
    for child in children:
        child._finish()


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
    # Ctrl-C stops the demo even when whatever started it ignored SIGINT (a shell's `&` does, and its children
    # inherit that): Python then leaves SIGINT ignored instead of raising KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        for child in children:
            child.start(env)
            child.wait_ready()
        on_ready()
        while True:
            for child in children:
                if child.process is not None and child.process.poll() is not None:
                    print(
                        f"{child.name} stopped (exit code {child.process.returncode}){child._see_log()}; "
                        "stopping the demo."
                    )
                    return 1
            time.sleep(0.5)
    except ChildFailed as error:
        print(f"{error}; stopping the demo.")
        return 1
    except KeyboardInterrupt:
        print("\nStopping the demo.")
        return 0
    finally:
        children_stop(list(reversed(children)))
