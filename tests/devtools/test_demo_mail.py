"""The demo prints its email in its terminal, naming a report's PDF instead of printing it."""

from __future__ import annotations

import io

from django.core.mail import EmailMessage

from portal.devtools.demo_mail import EmailBackend
from portal.devtools.processes import TERMINAL_MARK


def test_an_attachment_is_named_with_its_size_not_printed():
    stream = io.StringIO()
    pdf = b"%PDF-1.7\n" + b"\x00\x01binary" * 5000
    message = EmailMessage("Weekly report", "Your report is attached.", "portal@localhost", ["alice@example.com"])
    message.attach("acme-weekly.pdf", pdf, "application/pdf")
    assert EmailBackend(stream=stream).send_messages([message]) == 1
    printed = stream.getvalue()
    assert "Subject: Weekly report" in printed and "To: alice@example.com" in printed
    assert "Your report is attached." in printed
    assert f"[attached: acme-weekly.pdf (application/pdf, {len(pdf):,} bytes)]" in printed
    assert "JVBERi" not in printed  # no base64 of the PDF
    logged = [line for line in printed.splitlines(keepends=True) if not line.startswith(TERMINAL_MARK)]
    assert len("".join(logged)) < 500


def test_the_terminal_gets_subject_recipients_and_links_marked_for_it():
    stream = io.StringIO()
    body = "Your report is ready: http://127.0.0.1:8000/o/acme/exports/7/download.\nManage: http://127.0.0.1:8000/o/acme/exports/schedules/"
    message = EmailMessage("Weekly report", body, "portal@localhost", ["alice@example.com", "bob@example.com"])
    message.attach("acme-weekly.pdf", b"%PDF-1.7\n" * 20000, "application/pdf")
    EmailBackend(stream=stream).send_messages([message])
    marked = [line[len(TERMINAL_MARK) :] for line in stream.getvalue().splitlines() if line.startswith(TERMINAL_MARK)]
    assert marked == [
        "Email sent to alice@example.com, bob@example.com",
        "  subject: Weekly report",
        "  link: http://127.0.0.1:8000/o/acme/exports/7/download",
        "  link: http://127.0.0.1:8000/o/acme/exports/schedules/",
        "  attached: acme-weekly.pdf (application/pdf, 180,000 bytes)",
    ]
