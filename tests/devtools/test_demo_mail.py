"""The demo prints its email in its terminal, naming a report's PDF instead of printing it."""

from __future__ import annotations

import io

from django.core.mail import EmailMessage

from portal.devtools.demo_mail import EmailBackend


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
    assert "JVBERi" not in printed and len(printed) < 500  # no base64 of the PDF
