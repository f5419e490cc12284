"""`manage.py tmi_conformance --url URL`: check a TMI server against what the portal relies on.

Prints one line per check and `N/M checks passed`. Exit status 0 when nothing failed, 1 when a check failed,
2 when the server could not be reached or signed in to. The checks themselves are portal/conformance/suite.py.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from portal.conformance.results import Report
from portal.conformance.suite import DEFAULT_MAX_CONCURRENCY, DEFAULT_MAX_REQUESTS, conformance_run
from portal.organizations.tmi_gates import tmi_gate
from portal.tmi import TMIClient
from portal.tmi.addresses import AddressGuard

LABELS = {"ok": "ok", "fail": "FAIL", "skip": "skip"}


def portal_callback_url() -> str:
    """The portal's own sign-in callback: what the server's client-callback allow-list must accept."""
    return settings.PORTAL_BASE_URL.rstrip("/") + reverse("social:complete", args=("tmi",))


def only_this_server(url: str) -> AddressGuard:
    """The client may connect to the server the operator named, and nowhere else (no redirect elsewhere)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CommandError(f"--url must be an http(s) URL, not {url!r}")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return AddressGuard([f"{host}:{port}"])


def report_lines(report: Report) -> list[str]:
    lines = [
        f"TMI conformance of {report.base_url}"
        + (f" (TMI {report.version or report.generation})" if report.generation else "")
    ]
    for check in report.checks:
        detail = (
            f" ({check.detail})"
            if check.detail and check.outcome == "skip"
            else f": {check.detail}"
            if check.detail
            else ""
        )
        lines.append(f"{LABELS[check.outcome]:<5} {check.name}{detail}")
    if report.unreachable:
        lines.append(f"could not run the checks: {report.unreachable}")
    lines.append(f"{report.passed}/{report.counted} checks passed ({report.requests} requests)")
    return lines


class Command(BaseCommand):
    help = (
        "Check a TMI server against what the portal relies on: every call the portal makes, held against TMI's "
        "official OpenAPI/AsyncAPI documents and its known behaviours. Exit status 0: all passed; 1: a check "
        "failed; 2: the server could not be reached or signed in to."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--url", required=True, help="the TMI server's base URL, e.g. https://tmi.example.com")
        parser.add_argument("--token", help="a member's access token (default: sign in through the test provider)")
        parser.add_argument("--second-token", help="another member's access token, for the access checks")
        parser.add_argument(
            "--login-hint", help="the test provider's user to sign in as (default: a fresh conformance-<random>)"
        )
        parser.add_argument(
            "--client-callback",
            help="the client callback for sign-in (default: the portal's own, which TMI's allow-list must accept)",
        )
        parser.add_argument("--read-only", action="store_true", help="only read: create, refresh and sign out nothing")
        parser.add_argument(
            "--max-concurrency",
            type=int,
            default=DEFAULT_MAX_CONCURRENCY,
            help=f"calls open at the server at once, at most (default {DEFAULT_MAX_CONCURRENCY}, as the portal)",
        )
        parser.add_argument(
            "--max-requests", type=int, default=DEFAULT_MAX_REQUESTS, help="stop after this many requests"
        )
        parser.add_argument("--timeout", type=float, default=15.0, help="seconds to wait for each answer")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        url = options["url"].rstrip("/")
        if options["max_concurrency"] < 1:
            raise CommandError("--max-concurrency must be at least 1")
        guard = only_this_server(url)
        # The portal's own gate for this server: the run's calls count with the portal's, on this machine or,
        # with REDIS_URL, across machines, so the run and the portal together keep within the cap.
        gate = tmi_gate(url, options["max_concurrency"])

        def connect(**client_options: Any) -> TMIClient:
            return TMIClient(
                url, timeout=options["timeout"], max_retries=0, address_guard=guard, gate=gate, **client_options
            )

        report = conformance_run(
            base_url=url,
            connect=connect,
            auth=options["token"],
            second_auth=options["second_token"],
            login_hint=options["login_hint"],
            client_callback=options["client_callback"] or portal_callback_url(),
            read_only=options["read_only"],
            max_concurrency=options["max_concurrency"],
            max_requests=options["max_requests"],
        )
        if options["json"]:
            self.stdout.write(json.dumps(report.to_json(), indent=2))
        else:
            for line in report_lines(report):
                self.stdout.write(line)
        if report.exit_status:
            raise SystemExit(report.exit_status)
