"""Nothing in a report reaches the network or the disk: the fetcher serves data: URIs only."""

from __future__ import annotations

import base64
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from weasyprint import HTML

from portal.reports.fetching import DataOnlyURLFetcher, RefusedURL
from portal.reports.render import html_to_pdf, threat_model_report_pdf
from tests.dashboard.conftest import find_model
from tests.reports.conftest import pdf_text, report_read

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@pytest.fixture
def tracker():
    """A local web server that counts every request made to it."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write(PNG)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


def _noop(*args):
    pass


def _hostile_html(url: str) -> str:
    return (
        f'<html><head><link rel="stylesheet" href="{url}/sheet.css"><style>@import url("{url}/import.css");'
        f'body {{ background: url("{url}/background.png"); }}</style></head><body><p>Hello</p>'
        f'<img src="{url}/image.png"><img src="file:///etc/hostname"><svg><image href="{url}/in-svg.png"/></svg>'
        "</body></html>"
    )


def test_weasyprint_alone_would_fetch_these(tracker):
    """The control: without our fetcher the same HTML calls out, so the next test can fail."""
    url, hits = tracker
    HTML(string=_hostile_html(url)).write_pdf()
    assert hits


def test_the_report_fetcher_refuses_the_network_and_files(tracker):
    url, hits = tracker
    pdf = html_to_pdf(_hostile_html(url), title="t", progress=_noop, done=0, total=2)
    assert pdf.startswith(b"%PDF") and "Hello" in pdf_text(pdf)
    assert hits == []


def test_fetcher_serves_data_uris_only():
    fetcher = DataOnlyURLFetcher()
    response = fetcher.fetch("data:image/png;base64," + base64.b64encode(PNG).decode())
    assert response.read() == PNG
    for url in ("http://127.0.0.1/x.png", "https://example.com/x.png", "file:///etc/passwd", "ftp://x/y"):
        with pytest.raises(RefusedURL):
            fetcher.fetch(url)
    assert len(fetcher.refused) == 4


def test_an_image_in_a_user_written_description_is_never_fetched(sandbox, organization, alice, alice_client, tracker):
    url, hits = tracker
    tm_id = find_model(sandbox, "Customer Payments API")["id"]
    document = alice_client.documents.create(
        tm_id,
        name="Tracking document",
        uri="https://docs.example.com/document",
        description=f"See ![pixel]({url}/markdown.png) here.",
    )
    # TMI refuses a document on an internal address when it is written; a name that resolves elsewhere later
    # (DNS rebinding) still reaches the report, so the tracker takes its place behind TMI's back.
    stored = next(d for d in sandbox.state.threat_models[tm_id]["documents"] if d["id"] == str(document.id))
    stored["uri"] = f"{url}/document"
    alice_client.notes.create(
        tm_id, name="Tracking note", content=f'![n]({url}/note.png) <img src="{url}/raw.png"> [link]({url}/link)'
    )
    alice_client.threats.create(
        tm_id, name="Threat with a picture", threat_type=["Spoofing"], description=f"![p]({url}/threat.png)"
    )

    report = report_read(organization, alice, tm_id)
    pdf = threat_model_report_pdf(report, organization=organization, generated_at=report.threat_model.created_at)

    text = pdf_text(pdf)
    assert "Tracking document" in text and "Threat with a picture" in text and "Tracking note" in text
    assert hits == []
