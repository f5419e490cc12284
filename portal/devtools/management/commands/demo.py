import os
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from portal.devtools.demo_secrets import DEMO_SECRETS_FILE, demo_environment
from portal.devtools.demo_seed import demo_seed, demo_sign_in_hint
from portal.devtools.processes import Child, supervise
from portal.sandbox.config import GENERATIONS


def demo_tmi_servers(environ, *, host: str, sandbox_port: int) -> str:
    """The operator's list (the default, "public", when unset) plus the demo's sandbox: loopback is refused
    as a TMI server unless listed (portal/organizations/tmi_servers.py), so the demo lists exactly it."""
    listed = [entry for entry in environ.get("PORTAL_TMI_ALLOWED_SERVERS", "public").split(",") if entry.strip()]
    sandbox = f"[{host}]:{sandbox_port}" if ":" in host else f"{host}:{sandbox_port}"
    return ",".join([*listed, sandbox])


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

    def handle(self, *args, host, port, sandbox_port, tmi_version, no_worker, **options):
        call_command("migrate", interactive=False, verbosity=0)
        # DEBUG is off in the demo's processes, as in production: WhiteNoise serves the collected files.
        call_command("collectstatic", interactive=False, verbosity=0)
        sandbox_url = f"http://{host}:{sandbox_port}"
        portal_url = f"http://{host}:{port}"
        demo_seed(sandbox_url=sandbox_url, tmi_version=tmi_version)
        children = [
            Child(
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
                ],
                ready_url=f"{sandbox_url}/",
            ),
            Child(
                "portal",
                [sys.executable, "-m", "daphne", "-b", host, "-p", str(port), "portal.asgi:application"],
                ready_url=f"{portal_url}/healthz/",
            ),
        ]
        if not no_worker:
            children.append(
                Child(
                    "Celery worker",
                    [
                        sys.executable,
                        "-m",
                        "celery",
                        "-A",
                        "portal",
                        "worker",
                        "--loglevel",
                        "INFO",
                        "--concurrency",
                        "2",
                    ],
                )
            )
            # Beat fires the token refresh, expiry, reaper and every export schedule (database scheduler).
            children.append(
                Child("Celery beat", [sys.executable, "-m", "celery", "-A", "portal", "beat", "--loglevel", "INFO"])
            )
        # DEBUG off, and the demo's own secrets (kept under var/) unless the operator set real ones.
        env = {
            **demo_environment(os.environ, var_dir=settings.VAR_DIR, host=host),
            "PYTHONUNBUFFERED": "1",
            "PORTAL_TMI_ALLOWED_SERVERS": demo_tmi_servers(os.environ, host=host, sandbox_port=sandbox_port),
        }

        def announce():
            idp = "test" if tmi_version == "0.217" else "tmi"
            self.stdout.write(self.style.SUCCESS("\nThe TMI Portal demo is running."))
            self.stdout.write(f"  Portal:       {portal_url}/")
            self.stdout.write(f"  TMI sandbox:  {sandbox_url}/  (behaves as TMI {tmi_version})")
            self.stdout.write("  " + demo_sign_in_hint(portal_url=portal_url))
            self.stdout.write(f"  The test identity provider is '{idp}'; each login hint has different roles on the")
            self.stdout.write("  seeded threat models (dave can sign in at TMI but belongs to no portal organisation).")
            self.stdout.write(
                f"  DEBUG is off, as in production; the demo's secret key and salt are kept in "
                f"{settings.VAR_DIR / DEMO_SECRETS_FILE}."
            )
            self.stdout.write("  Press Ctrl-C to stop the demo.\n")

        sys.exit(supervise(children, env=env, on_ready=announce))
