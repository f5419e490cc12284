"""`python manage.py demo` starts the sandbox, the portal and a worker, and stops them all."""
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_until(process: subprocess.Popen, marker: str, timeout: float) -> str:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                break
            continue
        seen.append(line)
        if marker in line:
            return "".join(seen)
    raise AssertionError(f"demo never printed {marker!r}; output was:\n{''.join(seen)}")


def test_demo_runs_sandbox_portal_and_worker_then_stops_them(tmp_path):
    portal_port, sandbox_port = free_port(), free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}", "PYTHONUNBUFFERED": "1"}
    demo = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "demo", "--port", str(portal_port),
         "--sandbox-port", str(sandbox_port), "--tmi-version", "0.217"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        output = read_until(demo, "Press Ctrl-C to stop the demo.", timeout=90)
        assert f"http://127.0.0.1:{portal_port}/" in output
        assert f"http://127.0.0.1:{sandbox_port}/" in output
        assert "'test'" in output and "alice" in output  # the 0.217 test IdP and a login hint

        info = httpx.get(f"http://127.0.0.1:{sandbox_port}/", headers={"Accept": "application/json"}).json()
        assert info["service"]["build"].startswith("0.217")
        assert httpx.get(f"http://127.0.0.1:{portal_port}/healthz/").json() == {"status": "ok"}
    finally:
        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=30)
    # Every child went with it: both ports are free again.
    for port in (portal_port, sandbox_port):
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0
