"""The demo's email: written out like Django's console backend (into the process's log file under var/log/),
but an attachment (a scheduled report's PDF) is named with its size instead of being printed as some 1,600
lines of base64; and a short summary (subject, recipients, links, attachments) marked for the demo's terminal."""

from __future__ import annotations

import re

from django.core.mail.backends.console import EmailBackend as ConsoleBackend

from portal.devtools.processes import TERMINAL_MARK

_LINK = re.compile(r"https?://[^\s<>\"')]+")


def _attachments(message) -> list[str]:
    named = []
    for attachment in message.attachments:
        name, content, mimetype = (attachment if isinstance(attachment, tuple) else (None, None, None))[:3]
        size = len(content) if content is not None else len(attachment.get_payload(decode=True) or b"")
        named.append(
            f"{name or attachment.get_filename()} ({mimetype or attachment.get_content_type()}, {size:,} bytes)"
        )
    return named


def email_summary(message) -> list[str]:
    """What a person at the demo's terminal needs of an email: its subject, recipients, links and attachments."""
    recipients = [*message.to, *message.cc, *message.bcc]
    lines = [f"Email sent to {', '.join(recipients)}", f"  subject: {message.subject}"]
    links = dict.fromkeys(_LINK.findall(message.body))  # in order, once each
    lines += [f"  link: {link.rstrip('.,;:')}" for link in links]
    lines += [f"  attached: {named}" for named in _attachments(message)]
    return lines


class EmailBackend(ConsoleBackend):
    def write_message(self, message) -> None:
        lines = [f"Subject: {message.subject}", f"From: {message.from_email}", f"To: {', '.join(message.to)}"]
        lines += ["", message.body.rstrip()]
        for alternative, mimetype in getattr(message, "alternatives", []):
            lines.append(f"[{mimetype} version: {len(alternative)} characters]")
        lines += [f"[attached: {named}]" for named in _attachments(message)]
        lines.append("-" * 79)
        lines += [TERMINAL_MARK + line for line in email_summary(message)]
        self.stream.write("\n".join(lines) + "\n")
