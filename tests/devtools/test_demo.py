"""`python manage.py demo` starts the sandbox, the portal and a worker, and stops them all."""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import httpx

from portal.devtools.processes import free_port

ROOT = Path(__file__).resolve().parents[2]


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


def seeded_memberships(database: Path) -> set[tuple[str, str, str, str]]:
    """(organisation slug, its TMI URL, username, role) as the demo left them in its own database."""
    with closing(sqlite3.connect(database)) as db:
        return set(
            db.execute(
                "SELECT o.slug, o.tmi_base_url, u.username, m.role FROM organizations_membership m"
                " JOIN organizations_organization o ON o.id = m.organization_id JOIN auth_user u ON u.id = m.user_id"
            )
        )


def test_demo_runs_sandbox_portal_and_worker_then_stops_them(tmp_path):
    portal_port, sandbox_port = free_port(), free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}", "PYTHONUNBUFFERED": "1"}
    # Not the tests' list of TMI servers: the demo lists its own sandbox (the sign-in pages below reach it).
    env.pop("PORTAL_TMI_ALLOWED_SERVERS", None)
    # A new checkout: no secrets and no DEBUG set; the demo makes its own secrets under PORTAL_VAR_DIR.
    for name in ("DJANGO_SECRET_KEY", "PORTAL_FIELD_ENCRYPTION_SALT", "DJANGO_DEBUG", "PORTAL_DEVTOOLS"):
        env.pop(name, None)
    env["PORTAL_VAR_DIR"] = str(tmp_path / "var")
    demo = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "manage.py"),
            "demo",
            "--port",
            str(portal_port),
            "--sandbox-port",
            str(sandbox_port),
            "--tmi-version",
            "0.217",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output = read_until(demo, "Press Ctrl-C to stop the demo.", timeout=90)
        assert f"http://127.0.0.1:{portal_port}/" in output
        assert f"http://127.0.0.1:{sandbox_port}/" in output
        assert "'test'" in output  # the 0.217 test IdP
        portal = f"http://127.0.0.1:{portal_port}"
        assert f"{portal}/o/acme/" in output and f"{portal}/o/globex/" in output
        for hint in ("alice", "bob", "carol"):
            assert hint in output

        info = httpx.get(f"http://127.0.0.1:{sandbox_port}/", headers={"Accept": "application/json"}).json()
        assert info["service"]["build"].startswith("0.217")
        assert httpx.get(f"http://127.0.0.1:{portal_port}/healthz/").json() == {"status": "ok"}
        # The seeded organisations answer, and their sign-in page lists the sandbox's providers.
        for slug in ("acme", "globex"):
            login = httpx.get(f"{portal}/o/{slug}/login/")
            assert login.status_code == 200
            assert 'name="login_hint"' in login.text and "Test Provider" in login.text  # 0.217's test IdP
        assert httpx.get(f"{portal}/o/nowhere/login/").status_code == 404
        # DEBUG is off: an unknown address is the product's 404 page, never Django's list of URL patterns.
        missing = httpx.get(f"{portal}/o/acme/no-such-page/")
        assert missing.status_code == 404
        assert "We could not find that page" in missing.text
        assert "URLconf" not in missing.text and "urlpatterns" not in missing.text and "DEBUG" not in missing.text
        assert "script-src 'self'" in missing.headers["Content-Security-Policy"]
        # ... and WhiteNoise serves the static files the demo collected.
        assert httpx.get(f"{portal}/static/portal/portal.css").status_code == 200
        kept = json.loads((tmp_path / "var" / "demo-secrets.json").read_text())
        assert len(kept["DJANGO_SECRET_KEY"]) >= 50 and kept["PORTAL_FIELD_ENCRYPTION_SALT"]
        assert (tmp_path / "var" / "demo-secrets.json").stat().st_mode & 0o077 == 0
        assert seeded_memberships(tmp_path / "demo.sqlite3") == {
            ("acme", f"http://127.0.0.1:{sandbox_port}", "alice", "owner"),
            ("acme", f"http://127.0.0.1:{sandbox_port}", "bob", "member"),
            ("globex", f"http://127.0.0.1:{sandbox_port}", "carol", "owner"),
        }
    finally:
        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=30)
    # Every child went with it: both ports are free again.
    for port in (portal_port, sandbox_port):
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0


def test_demo_runs_against_a_tmi_server_of_your_own(tmp_path, sandbox_factory):
    """`demo --tmi-url`: no sandbox of its own; the organisations point at that server, whose generation
    comes from GET / (here a 0.217 sandbox stands in for "your own TMI server")."""
    server = sandbox_factory("0.217")
    portal_port, unused_sandbox_port = free_port(), free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}", "PYTHONUNBUFFERED": "1"}
    env.pop("PORTAL_TMI_ALLOWED_SERVERS", None)
    env["PORTAL_VAR_DIR"] = str(tmp_path / "var")
    demo = subprocess.Popen(
        [
            *(sys.executable, str(ROOT / "manage.py"), "demo", "--no-worker", "--port", str(portal_port)),
            *("--sandbox-port", str(unused_sandbox_port), "--tmi-url", server.base_url + "/"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output = read_until(demo, "Press Ctrl-C to stop the demo.", timeout=90)
        assert f"TMI server:   {server.base_url}/" in output and "no sandbox" in output
        assert "TMI sandbox:" not in output
        assert "'test'" in output  # the server's own test IdP, from its provider list
        assert "client-callback allow-list" in output
        with socket.socket() as sock:  # the demo started no sandbox
            assert sock.connect_ex(("127.0.0.1", unused_sandbox_port)) != 0
        login = httpx.get(f"http://127.0.0.1:{portal_port}/o/acme/login/")
        assert login.status_code == 200 and "Test Provider" in login.text  # the portal reached that server
        assert seeded_memberships(tmp_path / "demo.sqlite3") == {
            ("acme", server.base_url, "alice", "owner"),
            ("acme", server.base_url, "bob", "member"),
            ("globex", server.base_url, "carol", "owner"),
        }
    finally:
        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=30)


def test_demo_refuses_a_tmi_url_that_is_not_a_tmi_server(tmp_path):
    port = free_port()  # nothing listens there
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}", "PORTAL_VAR_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "demo", "--tmi-url", f"http://127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert f"http://127.0.0.1:{port} did not answer as a TMI server" in result.stderr
    assert not (tmp_path / "demo.sqlite3").exists()  # nothing was set up
