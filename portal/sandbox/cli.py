"""Run a sandbox in the foreground: `python -m portal.sandbox` or `manage.py tmi_sandbox`."""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from portal.sandbox.config import GENERATIONS, SERVER_BUILDS, SandboxConfig
from portal.sandbox.server import SandboxServer

LOGIN_HINTS = ("alice", "bob", "carol", "dave")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Shared by the management command, so both entry points take the same options."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument(
        "--tmi-version", choices=GENERATIONS, default="1.8", help="which TMI generation the sandbox behaves as"
    )
    parser.add_argument("--seed", choices=("demo", "none"), default="demo")
    parser.add_argument(
        "--client-callback-allowlist",
        action="append",
        default=None,
        metavar="URL[,URL...]",
        help="1.8 client_callback allow-list entries: exact URLs or prefixes ending in '*'",
    )
    parser.add_argument("--access-token-seconds", type=int, default=None)
    parser.add_argument(
        "--no-rate-limits",
        action="store_true",
        help="turn the real servers' rate limits off (1.8: TMI_DISABLE_RATE_LIMITING; 0.217 has no such switch)",
    )
    parser.add_argument(
        "--rate-limit-loopback",
        action="store_true",
        help="1.8: count loopback clients in the per-IP auth-flow limit too (the real server exempts them)",
    )
    parser.add_argument(
        "--administrator",
        action="append",
        default=None,
        metavar="LOGIN_HINT",
        help="1.8: a login hint made a TMI administrator when it signs in (may subscribe to webhooks)",
    )
    parser.add_argument(
        "--webhook-allow-host",
        action="append",
        default=None,
        metavar="HOST",
        help="1.8: a webhook target host let past the deny list and SSRF check (e.g. 127.0.0.1 for a local receiver)",
    )
    parser.add_argument(
        "--webhook-allow-http",
        action="store_true",
        help="1.8: accept http:// webhook targets (the real default: https only)",
    )
    parser.add_argument("--log-level", default="warning")
    parser.add_argument(
        "--public-url", default=None, help="the URL clients reach the sandbox at, when it differs from http://HOST:PORT"
    )


def config_from(values: Mapping[str, Any]) -> SandboxConfig:
    """The config for parsed options (argparse's, or the management command's dict)."""
    config = SandboxConfig(generation=values["tmi_version"], seed=None if values["seed"] == "none" else values["seed"])
    if values.get("client_callback_allowlist"):
        config.client_callback_allowlist = [
            entry.strip()
            for group in values["client_callback_allowlist"]
            for entry in group.split(",")
            if entry.strip()
        ]
    if values.get("access_token_seconds"):
        config.access_token_seconds = values["access_token_seconds"]
    config.rate_limits = not values.get("no_rate_limits")
    config.rate_limit_loopback = bool(values.get("rate_limit_loopback"))
    config.administrators = list(values.get("administrator") or [])
    config.webhook_allowed_hosts = list(values.get("webhook_allow_host") or [])
    config.webhook_allow_http_targets = bool(values.get("webhook_allow_http"))
    return config


def rate_limit_summary(config: SandboxConfig) -> str:
    if not config.rate_limits:
        return "off (--no-rate-limits)"
    if config.is_legacy:
        return "on, as 0.217.8 (GET / 10 a minute per address, sign-in 10 an hour per login hint; loopback counted)"
    loopback = "counted" if config.rate_limit_loopback else "exempt"
    return f"on, as 1.8.22 (auth flow 100 a minute per client address; loopback {loopback})"


def banner(server: SandboxServer) -> str:
    config = server.config
    return "\n".join(
        [
            f"TMI sandbox listening on {server.base_url}/",
            f"  Behaves as TMI {config.generation} (GET / reports build {SERVER_BUILDS[config.generation]})",
            f"  Sign in with the test identity provider '{config.test_idp}' and a login_hint: {', '.join(LOGIN_HINTS)}",
            f"  Seed data: {config.seed or 'none'}",
            f"  Rate limits: {rate_limit_summary(config)}",
            "  Press Ctrl-C to stop.",
        ]
    )


def serve(values: Mapping[str, Any], *, out: TextIO = sys.stdout) -> None:
    server = SandboxServer(
        config_from(values),
        host=values["host"],
        port=values["port"],
        log_level=values.get("log_level") or "warning",
        public_url=values.get("public_url"),
    )
    out.write(banner(server) + "\n")
    out.flush()
    # TMI is Go, whose collector runs beside the server. CPython's stops it: a full collection over the imports
    # and the seed stopped every socket for 10-35 ms, a stall no real TMI shows (and which a relay measured
    # against the sandbox would be blamed for). Those objects live as long as the process: never scanned.
    gc.freeze()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m portal.sandbox", description=__doc__)
    add_arguments(parser)
    serve(vars(parser.parse_args(argv)))
