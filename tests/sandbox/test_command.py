"""`manage.py tmi_sandbox` runs a sandbox in the foreground."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.sandbox.helpers import bearer, login

MANAGE_PY = Path(__file__).resolve().parents[2] / "manage.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, timeout: float = 30.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read()
        try:
            return httpx.get(url, timeout=1.0)
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout} s")


@pytest.mark.parametrize(
    "entry_point", [[str(MANAGE_PY), "tmi_sandbox"], ["-m", "portal.sandbox"]], ids=["manage.py", "python-m"]
)
def test_command_serves_the_requested_generation(entry_point):
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            *entry_point,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--tmi-version",
            "0.217",
            "--seed",
            "none",
            "--access-token-seconds",
            "120",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=MANAGE_PY.parent,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        info = wait_for(f"{base}/", process).json()
        assert info["status"]["code"] == "OK" and info["api"]["version"] == "1.0.0"
        tokens = login(base, "alice")
        assert tokens["expires_in"] == 120
        assert httpx.get(f"{base}/users/me", headers=bearer(tokens)).json()["email"] == "alice@test.tmi"
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=15)
    assert f"{base}/" in output
    assert "0.217" in output and "'test'" in output and "alice" in output


def test_options_become_a_config():
    import argparse

    from portal.sandbox.cli import add_arguments, config_from

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    config = config_from(
        vars(
            parser.parse_args(
                [
                    "--tmi-version",
                    "1.8",
                    "--seed",
                    "none",
                    "--access-token-seconds",
                    "30",
                    "--client-callback-allowlist",
                    "http://a.example/cb,http://b.example/*",
                    "--client-callback-allowlist",
                    "http://c.example/cb",
                ]
            )
        )
    )
    assert (config.generation, config.seed, config.access_token_seconds) == ("1.8", None, 30)
    assert config.client_callback_allowlist == ["http://a.example/cb", "http://b.example/*", "http://c.example/cb"]
    assert config_from(vars(parser.parse_args([]))).seed == "demo"


def test_a_public_url_replaces_the_bound_address_in_what_the_sandbox_issues():
    import jwt

    from portal.sandbox.config import SandboxConfig
    from portal.sandbox.server import SandboxServer

    with SandboxServer(SandboxConfig(seed=None), public_url="http://tmi.example:9999/") as server:
        assert server.base_url == "http://tmi.example:9999"
        user = server.state.user_for_login(
            provider="tmi", provider_id="alice", email="alice@tmi.local", display_name="Alice (TMI User)"
        )
        claims = jwt.decode(server.state.issue_tokens(user)["access_token"], options={"verify_signature": False})
        assert claims["iss"] == "http://tmi.example:9999"


def test_a_sandbox_process_never_rescans_what_it_loaded_at_start(monkeypatch):
    """TMI's Go collector never stops the server; a full CPython collection over the imports and the seed
    stopped every socket of a sandbox for 10-35 ms. They are frozen before the first request."""
    import argparse
    import gc
    import io

    from portal.sandbox import cli
    from portal.sandbox.server import SandboxServer

    frozen_when_serving = []
    monkeypatch.setattr(SandboxServer, "serve_forever", lambda self: frozen_when_serving.append(gc.get_freeze_count()))
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    gc.unfreeze()
    try:
        cli.serve(vars(parser.parse_args(["--port", "0"])), out=io.StringIO())
    finally:
        gc.unfreeze()
    assert frozen_when_serving and frozen_when_serving[0] > 10_000
