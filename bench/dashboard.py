"""How fast are the dashboard pages with 1,000 threat models in TMI?

    python -m bench [--generation 1.8|0.217] [--models 1000] [--repeat 5] [--latency-ms 10]

Starts a sandbox seeded with `bulk:<models>`, a temporary SQLite database with organisation `bench` and a
signed-in member (real tokens from the sandbox's test IdP, in the token vault), then prints:
- the server time of the portfolio page and of a threat-model page (Django's test client, in-process, each
  request with an empty cache, and again with the per-member cache warm): median and p95;
- the ratio between fetching each page's TMI data concurrently and making the same calls one after another
  (the same selector with concurrency 8 and 1).
`--latency-ms` adds that much delay to every threat-model call at the sandbox (a fault hook), standing for
the network between the portal and a real TMI; 0 measures the in-process sandbox alone.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

CALLBACK = "http://127.0.0.1:8000/callback"


def _configure_django(workdir: Path) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["PORTAL_VAR_DIR"] = str(workdir)
    os.environ.setdefault("DJANGO_DEBUG", "false")  # no per-query bookkeeping, as in production
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def _sign_in(base_url: str, hint: str):
    """A real token pair for `hint` through the sandbox's test IdP (PKCE, authorize, code exchange)."""
    import httpx

    from portal.tmi import TMIClient, pkce

    with TMIClient(base_url) as client:
        provider = client.auth.test_provider()
        verifier, state = pkce.code_verifier(), pkce.new_state()
        url = client.auth.authorize_url(
            provider,
            state=state,
            code_challenge=pkce.code_challenge(verifier),
            client_callback=CALLBACK,
            login_hint=hint,
        )
        code = parse_qs(urlsplit(httpx.get(url).headers["location"]).query)["code"][0]
        return client.auth.exchange_code(code, verifier, redirect_uri=CALLBACK, idp=provider.id), provider.id


def _timed(action: Callable[[], object], repeat: int, *, before: Callable[[], object] = lambda: None) -> list[float]:
    times = []
    for _ in range(repeat):
        before()
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return times


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]


def _line(label: str, values: list[float]) -> str:
    return (
        f"  {label:<44} median {statistics.median(values) * 1000:8.1f} ms   p95 {_p95(values) * 1000:8.1f} ms"
        f"   (n={len(values)})"
    )


def run(args: argparse.Namespace) -> None:
    from asgiref.sync import async_to_sync
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.test import Client
    from django.urls import reverse

    from portal.accounts.vault import tmi_connection_store
    from portal.dashboard import selectors
    from portal.organizations.models import Organization
    from portal.sandbox.config import SandboxConfig
    from portal.sandbox.server import SandboxServer

    print(f"Starting a TMI {args.generation} sandbox with {args.models} threat models...", flush=True)
    with SandboxServer(SandboxConfig(generation=args.generation, seed=f"bulk:{args.models}")) as sandbox:
        organization = Organization.objects.create(name="Bench", slug="bench", tmi_base_url=sandbox.base_url)
        user = get_user_model().objects.create(username="alice")
        organization.memberships.create(user=user, role="owner")
        tokens, provider = _sign_in(sandbox.base_url, "alice")
        tmi_connection_store(organization=organization, user=user, tokens=tokens, provider=provider, subject="alice")
        if args.latency_ms:
            import httpx

            httpx.post(
                f"{sandbox.base_url}/_sandbox/faults",
                timeout=10,
                json={"path_prefix": "/threat_models", "latency_ms": args.latency_ms},
            ).raise_for_status()
        client = Client()
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        tm_id = next(iter(sandbox.state.threat_models))
        portfolio_url = reverse("dashboard:portfolio", args=["bench"])
        tm_url = reverse("dashboard:threat_model", args=["bench", tm_id])

        def get(url: str) -> Callable[[], None]:
            def fetch() -> None:
                response = client.get(url)
                if response.status_code != 200:
                    raise SystemExit(f"{url} answered {response.status_code}")

            return fetch

        print(
            f"TMI {args.generation}, {args.models} threat models, {args.latency_ms} ms added per TMI call, "
            f"concurrency {selectors.PER_PAGE_CONCURRENCY}",
            flush=True,
        )
        print("Server time of a page (Django test client, in-process):")
        print(_line("portfolio, empty cache", _timed(get(portfolio_url), args.repeat, before=cache.clear)))
        print(_line("portfolio, per-member cache warm", _timed(get(portfolio_url), args.repeat)))
        print(_line("threat-model page", _timed(get(tm_url), args.repeat * 4, before=cache.clear)))

        print("Concurrent vs one-after-another TMI calls (same selector, empty cache):")
        portfolio = async_to_sync(selectors.portfolio_for_dashboard)
        detail = async_to_sync(selectors.threat_model_for_dashboard)
        for label, call in (
            ("portfolio", lambda c: portfolio(organization=organization, user=user, concurrency=c)),
            (
                "threat-model page",
                lambda c: detail(organization=organization, user=user, threat_model_id=tm_id, concurrency=c),
            ),
        ):
            repeat = max(1, args.repeat // 2) if label == "portfolio" else args.repeat
            together = _timed(lambda call=call: call(selectors.PER_PAGE_CONCURRENCY), repeat, before=cache.clear)
            serial = _timed(lambda call=call: call(1), repeat, before=cache.clear)
            print(_line(f"{label}, concurrent", together))
            print(_line(f"{label}, one after another", serial))
            print(
                f"  {label}: one-after-another / concurrent = "
                f"{statistics.median(serial) / statistics.median(together):.1f}x"
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--generation", choices=["1.8", "0.217"], default="1.8")
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5, help="requests per measurement (the threat-model page: x4)")
    parser.add_argument("--latency-ms", type=int, default=10, help="delay added to each TMI call (default 10)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="portal-bench-") as workdir:
        _configure_django(Path(workdir))
        run(args)
    sys.stdout.flush()
