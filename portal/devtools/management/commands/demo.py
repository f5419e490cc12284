import os
import sys
from ctypes.util import find_library
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from portal.devtools.demo_secrets import DEMO_SECRETS_FILE, demo_environment
from portal.devtools.demo_seed import DEMO_ORGANIZATIONS, demo_seed, demo_sign_in_hint
from portal.devtools.processes import Child, supervise
from portal.organizations.models import Organization
from portal.sandbox.config import GENERATIONS
from portal.tmi import TMIClient
from portal.tmi.errors import TMIError

TEST_IDPS = ("tmi", "test")  # the built-in test IdP of 1.8 and of 0.217 (PROTOCOL.md 3.3, 9.2)


def demo_tmi_servers(environ, *, tmi_url: str) -> str:
    """The operator's list (the default, "public", when unset) plus the demo's TMI server: loopback is
    refused as a TMI server unless listed (portal/organizations/tmi_servers.py), so the demo lists exactly
    the server it runs against (its sandbox, or `--tmi-url`)."""
    listed = [entry for entry in environ.get("PORTAL_TMI_ALLOWED_SERVERS", "public").split(",") if entry.strip()]
    parts = urlsplit(tmi_url)
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return ",".join([*listed, f"{host}:{port}"])


@dataclass(frozen=True)
class DemoServer:
    generation: str
    build: str
    test_idp: str | None  # the id of the server's test identity provider, None when it has none


def demo_server_check(tmi_url: str) -> DemoServer:
    """What `--tmi-url` answers: its generation and whether it has the test IdP the demo's people sign in
    with. CommandError, in words, when it is not a TMI server the demo can use."""
    try:
        with TMIClient(tmi_url, timeout=10, max_retries=1) as client:
            info = client.discovery()
            providers = client.auth.providers()
    except TMIError as exc:
        raise CommandError(f"{tmi_url} did not answer as a TMI server: {exc}") from exc
    test_idp = next((p.id for p in providers if p.id in TEST_IDPS), None)
    return DemoServer(generation=info.generation, build=info.build or "", test_idp=test_idp)


# Each process's whole output, under var/log/ (the start-up message names them).
DEMO_LOG_FILES = {
    "TMI sandbox": "sandbox.log",
    "portal": "portal.log",
    "Celery worker": "worker.log",
    "Celery beat": "beat.log",
}
PDF_PACKAGES = "libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core"
FONT_FOLDERS = ("/usr/share/fonts", "/usr/local/share/fonts", Path.home() / ".fonts")


def demo_pdf_check() -> None:
    """What PDF reports need (WeasyPrint: Pango, and a font), checked before anything starts, as `make demo` does,
    rather than a worker failing on the first export. CommandError, in words, when something is missing."""
    missing = [name for name in ("pango-1.0", "pangoft2-1.0") if find_library(name) is None]
    if not any(any(Path(folder).rglob(pattern)) for folder in FONT_FOLDERS for pattern in ("*.ttf", "*.otf")):
        missing.append("a font")
    if missing:
        raise CommandError(
            f"PDF reports need Pango and a font; missing: {', '.join(missing)}. Install them with "
            f"'sudo apt-get install -y {PDF_PACKAGES}' (or run 'make demo' as root, which does)."
        )


class Command(BaseCommand):
    help = "Run the demo: the TMI sandbox with seed data, the portal (daphne), a Celery worker and beat."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000, help="the portal's port")
        parser.add_argument("--sandbox-port", type=int, default=8080)
        parser.add_argument(
            "--tmi-version", choices=GENERATIONS, default="1.8", help="which TMI generation the sandbox behaves as"
        )
        parser.add_argument("--no-worker", action="store_true", help="do not start a Celery worker or beat")
        parser.add_argument(
            "--tmi-url",
            help="run against this TMI server instead of the sandbox (its generation is read from GET /); "
            "the demo's organisations are pointed at it",
        )

    def handle(self, *args, host, port, sandbox_port, tmi_version, no_worker, tmi_url, **options):
        server = demo_server_check(tmi_url.rstrip("/")) if tmi_url else None
        demo_pdf_check()
        call_command("migrate", interactive=False, verbosity=0)
        restarted = Organization.objects.filter(slug__in=[demo.slug for demo in DEMO_ORGANIZATIONS]).exists()
        # DEBUG is off in the demo's processes, as in production: WhiteNoise serves the collected files.
        call_command("collectstatic", interactive=False, verbosity=0)
        if server is not None:
            tmi_url, tmi_version = tmi_url.rstrip("/"), server.generation
        else:
            tmi_url = f"http://{host}:{sandbox_port}"
        portal_url = f"http://{host}:{port}"
        demo_seed(tmi_url=tmi_url, tmi_version=tmi_version)
        log_dir = settings.VAR_DIR / "log"
        children = [] if server is not None else [self._sandbox(host, sandbox_port, tmi_version)]
        children.append(
            Child(
                "portal",
                [sys.executable, "-m", "daphne", "-b", host, "-p", str(port), "portal.asgi:application"],
                ready_url=f"{portal_url}/healthz/",
            )
        )
        if not no_worker:
            children += self._workers()
        # Each process's whole output goes to its file under var/log/; this terminal shows what a person needs
        # (the URLs below, errors, the emails' summaries: portal/devtools/processes.py, TerminalFilter).
        for child in children:
            child.log_path, child.to_terminal = log_dir / DEMO_LOG_FILES[child.name], True
        # DEBUG off, and the demo's own secrets (kept under var/) unless the operator set real ones.
        env = {
            **demo_environment(os.environ, var_dir=settings.VAR_DIR, host=host),
            "PYTHONUNBUFFERED": "1",
            "PORTAL_TMI_ALLOWED_SERVERS": demo_tmi_servers(os.environ, tmi_url=tmi_url),
            # The links in the emails lead to this demo, on whatever port it runs.
            "PORTAL_BASE_URL": os.environ.get("PORTAL_BASE_URL") or portal_url,
            # Whole (a report's PDF named, not dumped as base64) in the sending process's log; summarised in this terminal.
            "EMAIL_BACKEND": os.environ.get("EMAIL_BACKEND") or "portal.devtools.demo_mail.EmailBackend",
            # The worker syncs the portfolio store, as in production; without one, the portal process does it
            # when a page asks (portal/portfolio/requests.py), so the pages still fill in.
            "PORTAL_SYNC_INLINE": "true" if no_worker else "false",
        }

        def announce():
            self.stdout.write(self.style.SUCCESS("\nThe TMI Portal demo is running."))
            self.stdout.write(f"  Portal:       {portal_url}/")
            if server is None:
                self.stdout.write(f"  TMI sandbox:  {tmi_url}/  (behaves as TMI {tmi_version})")
            else:
                self.stdout.write(f"  TMI server:   {tmi_url}/  (TMI {server.build or tmi_version}; no sandbox)")
            idp = server.test_idp if server is not None else ("test" if tmi_version == "0.217" else "tmi")
            if idp is None:
                self.stdout.write(
                    self.style.WARNING(
                        "  This TMI server has no test identity provider, so the demo's people cannot sign in.\n"
                        "  Invite yourself instead: create a portal superuser (python manage.py createsuperuser),\n"
                        f"  then at {portal_url}/admin/ add an invitation to an organisation for your email."
                    )
                )
            else:
                self.stdout.write("  " + demo_sign_in_hint(portal_url=portal_url))
                self.stdout.write(
                    f"  The test identity provider is '{idp}'; each login hint has different roles on the"
                )
                if server is None:
                    self.stdout.write(
                        "  seeded threat models (dave can sign in at TMI but belongs to no portal organisation)."
                    )
                else:
                    self.stdout.write("  threat models of this server, as its own access lists say.")
            if server is not None:
                self.stdout.write(
                    f"  The server must accept {portal_url}/ callbacks (its client-callback allow-list); see\n"
                    "  docs/own-tmi-server.md."
                )
            self.stdout.write(
                f"  DEBUG is off, as in production; the demo's secret key and salt are kept in "
                f"{settings.VAR_DIR / DEMO_SECRETS_FILE}."
            )
            if restarted and server is None:
                self.stdout.write(
                    self.style.WARNING(
                        "  Restarted: the TMI sandbox's data was reset to its seed (what you changed in TMI last time\n"
                        "  is gone: it keeps nothing between runs); the portal's data was kept (members, schedules,\n"
                        f"  exports, history: {settings.DATABASES['default']['NAME']}), and it catches up with the\n"
                        "  sandbox at its next sync."
                    )
                )
            self.stdout.write(
                f"  Full logs (requests, tasks, the scheduler, whole emails) are in {log_dir}/: "
                + ", ".join(DEMO_LOG_FILES[child.name] for child in children)
                + "."
            )
            self.stdout.write("  Press Ctrl-C to stop the demo.\n")

        code = supervise(children, env=env, on_ready=announce)
        # Its children are stopped and their output copied: the demo ends now. A normal interpreter exit could
        # be held by whatever a copier thread or an imported library left behind; on a loaded CI machine Ctrl-C
        # then took over a minute to give the terminal back.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)

    @staticmethod
    def _sandbox(host: str, sandbox_port: int, tmi_version: str) -> Child:
        return Child(
            "TMI sandbox",
            # The sandbox's own entry point: the children run with the demo's secrets, under which the
            # settings load no devtools (PORTAL_DEVTOOLS), so not its management command.
            [
                sys.executable,
                "-m",
                "portal.sandbox",
                "--host",
                host,
                "--port",
                str(sandbox_port),
                "--tmi-version",
                tmi_version,
                "--seed",
                "demo",
                # Someone trying the portal signs in as alice, bob and carol again and again: 0.217's limits
                # (10 sign-ins an hour per login hint, 10 GET / a minute) would stop them within minutes.
                "--no-rate-limits",
            ],
            ready_url=f"http://{host}:{sandbox_port}/",
        )

    @staticmethod
    def _workers() -> list[Child]:
        return [
            Child(
                "Celery worker",
                [sys.executable, "-m", "celery", "-A", "portal", "worker", "--loglevel", "INFO", "--concurrency", "2"],
            ),
            # Beat fires the token refresh, expiry, reaper and every export schedule (database scheduler).
            Child("Celery beat", [sys.executable, "-m", "celery", "-A", "portal", "beat", "--loglevel", "INFO"]),
        ]
