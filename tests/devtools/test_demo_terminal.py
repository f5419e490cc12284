"""The demo's terminal holds what a person needs (the URLs, sign-in hints, errors, the emails' subject,
recipients and links), and the whole of each process's output goes to its file under var/log/.

A person starts `make demo`, signs in as alice, walks through every kind of page in chromium, makes a PDF and
has a schedule email it, presses Ctrl-C, and starts the demo again the next day."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from portal.devtools.browser import VIEWPORT, chromium_launch, sign_in_with_test_idp
from portal.devtools.processes import free_port

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "demo-terminal"
READY = "Press Ctrl-C to stop the demo."
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
BASE64_LINE = re.compile(r"^[A-Za-z0-9+/]{60,}={0,2}$")


class RunningDemo:
    """`manage.py demo` in its own process group, as a terminal runs it; its output read line by line."""

    def __init__(self, *, env: dict[str, str], portal_port: int, sandbox_port: int) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [
                *(sys.executable, str(ROOT / "manage.py"), "demo", "--port", str(portal_port)),
                *("--sandbox-port", str(sandbox_port)),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = next((line for line in list(self.lines) if re.search(pattern, line)), None)
            if found is not None:
                return found
            if self.process.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.2)
        raise AssertionError(f"the demo never printed {pattern!r}; it printed:\n" + "\n".join(self.lines))

    def interrupt(self) -> list[str]:
        """Ctrl-C, as a terminal sends it: SIGINT to the foreground process group (the demo's children run
        in groups of their own, and the demo stops them)."""
        os.killpg(self.process.pid, signal.SIGINT)
        assert self.process.wait(timeout=60) == 0
        self._reader.join(timeout=10)
        return self.lines

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=60)


def walk_every_page_type(page, *, portal: str) -> dict[str, str]:
    """Alice (acme's owner) through the real sign-in, then every kind of page; a PDF export; a schedule that
    emails her. What was seen, by name."""
    from playwright.sync_api import Error as PlaywrightError

    seen = {}
    sign_in_with_test_idp(page, portal_url=portal, slug="acme", hint="alice")  # the sign-in page, then the overview
    seen["overview"] = page.url

    def visit(name: str, url: str) -> None:
        response = page.goto(url)
        assert response is not None and response.status == 200, (name, url, response and response.status)
        page.wait_for_load_state("networkidle")
        seen[name] = url

    # The first sign-in has the worker read alice's threat models from TMI ("Reading your threat models"
    # meanwhile): the list links them once it has.
    deadline, model_hrefs = time.monotonic() + 120, set()
    while not model_hrefs and time.monotonic() < deadline:
        try:
            visit("model list", f"{portal}/o/acme/threat-models/")
        except PlaywrightError:  # the reading page reloaded itself just as we left it: go again
            time.sleep(1)
            continue
        model_hrefs = {
            href
            for href in page.locator("a[href*='/threat-models/']").evaluate_all("links => links.map(a => a.href)")
            if re.search(rf"/threat-models/{UUID}/$", href)
        }
        time.sleep(0 if model_hrefs else 2)
    assert model_hrefs, page.content()
    live = None
    for href in sorted(model_hrefs):  # the first threat model with a diagram
        visit("threat model", href)
        lives = page.locator("a[href*='/live/']")
        if lives.count():
            live = lives.first.get_attribute("href")
            break
    assert live is not None, "no seeded threat model links a live diagram"
    threat_model = seen["threat model"]
    visit("live diagram", portal + live if live.startswith("/") else live)
    page.locator("svg").first.wait_for()  # the live page drew the diagram over its socket
    for name, path in [
        ("register", "threats/"),
        ("changes", "changes/"),
        ("trends", "trends/"),
        ("exports", "exports/"),
        ("members", "admin/"),
        ("TMI connection", "admin/tmi/"),
        ("branding", "admin/branding/"),
        ("audit log", "admin/audit/"),
        ("health", "admin/health/"),
        ("schedules", "admin/schedules/"),
    ]:
        visit(name, f"{portal}/o/acme/{path}")

    # An export: the threat model's PDF, made by the worker; the job page shows the download when it is ready.
    visit("threat model", threat_model)
    page.get_by_role("button", name="Export PDF").click()
    page.wait_for_url(f"{portal}/o/acme/exports/*/")
    page.locator("#export-download").wait_for(state="visible", timeout=180_000)
    seen["export job"] = page.url
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the PDF").click()
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF")

    # A schedule that emails alice, run now: the worker makes its PDF and sends the email.
    visit("new schedule", f"{portal}/o/acme/admin/schedules/new/")
    page.get_by_label("Name", exact=True).fill("Demo walk board pack")
    page.locator("[name=frequency]").select_option("daily")
    page.locator("[name=time_of_day]").fill("07:30")
    page.locator("[name=recipients_text]").fill("alice@tmi.local")
    page.get_by_role("button", name="Create schedule").click()
    page.wait_for_load_state()
    assert page.url == f"{portal}/o/acme/admin/schedules/", page.locator("main").inner_text()
    row = page.locator("tr").filter(has_text="Demo walk board pack")
    row.get_by_role("button", name="Run now").click()
    page.wait_for_load_state("networkidle")
    seen["schedule runs"] = page.url
    return seen


# Two starts of the whole demo, a walk in chromium, two PDFs and an email: about a minute alone, more beside
# other tests on two cores.
@pytest.mark.timeout(600)
def test_the_terminal_holds_what_a_person_needs_and_var_log_the_rest(tmp_path):
    portal_port, sandbox_port = free_port(), free_port()
    portal = f"http://127.0.0.1:{portal_port}"
    var = tmp_path / "var"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}", "PORTAL_VAR_DIR": str(var)}
    env.pop("PORTAL_TMI_ALLOWED_SERVERS", None)
    for name in ("DJANGO_SECRET_KEY", "PORTAL_FIELD_ENCRYPTION_SALT", "DJANGO_DEBUG", "PORTAL_DEVTOOLS"):
        env.pop(name, None)
    env.pop("EMAIL_BACKEND", None)  # the demo's own: printed, summarised in the terminal
    env.pop("PORTAL_BASE_URL", None)

    demo = RunningDemo(env=env, portal_port=portal_port, sandbox_port=sandbox_port)
    try:
        demo.wait_for(re.escape(READY), timeout=120)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = chromium_launch(playwright)
            page = browser.new_context(viewport=VIEWPORT, locale="en-GB").new_page()
            page.set_default_timeout(30_000)
            seen = walk_every_page_type(page, portal=portal)
            browser.close()
        demo.wait_for(r"^  subject: Acme: “Demo walk board pack” is ready$", timeout=180)
        lines = demo.interrupt()
    finally:
        demo.kill()

    printed = "\n".join(lines)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "terminal.txt").write_text(printed + "\n")  # what the person saw, for the proof
    assert set(seen) == {
        *("overview", "model list", "threat model", "live diagram", "register", "changes", "trends", "exports"),
        *("members", "TMI connection", "branding", "audit log", "health", "schedules", "new schedule"),
        *("export job", "schedule runs"),
    }
    assert len(lines) <= 60, f"{len(lines)} lines:\n{printed}"
    assert max(len(line) for line in lines) <= 1000
    assert not [line for line in lines if "Traceback" in line or "ERROR" in line], printed
    assert not [line for line in lines if BASE64_LINE.match(line.strip())], printed
    # The start-up message: the URLs, the sign-in hints, and where the whole logs are.
    assert f"  Portal:       {portal}/" in lines and "alice" in printed and "Restarted" not in printed
    log_dir = var / "log"
    logs_line = next(line for line in lines if "Full logs" in line)
    assert str(log_dir) in logs_line
    for name in ("sandbox.log", "portal.log", "worker.log", "beat.log"):
        assert name in logs_line and (log_dir / name).stat().st_size > 0
    # The email: its recipient and subject, and its links (to this demo), never its attachment.
    email_at = lines.index("Email sent to alice@tmi.local")
    assert lines[email_at + 1] == "  subject: Acme: “Demo walk board pack” is ready"
    links = [line for line in lines[email_at + 1 :] if line.startswith("  link: ")]
    assert links and links[0].startswith(f"  link: {portal}/o/acme/exports/"), printed
    assert "  attached: " in printed and "JVBERi" not in printed  # named, never its base64
    # ... and the whole of it is in the worker's log, as is everything else the terminal left out.
    portal_log = (log_dir / "portal.log").read_text()
    assert '"GET /static/' in portal_log and '"GET /o/acme/trends/"' in portal_log
    assert "WSCONNECT" in portal_log or "/live/" in portal_log
    worker_log = (log_dir / "worker.log").read_text()
    assert "Subject: Acme: “Demo walk board pack” is ready" in worker_log
    assert "portal.exports.tasks.export_job_run_task" in worker_log
    assert "Sending due task" in (log_dir / "beat.log").read_text()
    assert "Warm shutdown" in worker_log  # it stopped, and said so in its log, not the terminal
    assert "exited with 'signal 15" not in worker_log  # its pool stopped in order, not killed under it

    # Started again: the sandbox begins from its seed data, the portal keeps its own; the demo says so.
    again = RunningDemo(env=env, portal_port=portal_port, sandbox_port=sandbox_port)
    try:
        again.wait_for(re.escape(READY), timeout=120)
        restarted = "\n".join(again.interrupt())
    finally:
        again.kill()
    assert "Restarted: the TMI sandbox's data was reset to its seed" in restarted
    assert "the portal's data was kept" in restarted
    assert str(tmp_path / "demo.sqlite3") in restarted
