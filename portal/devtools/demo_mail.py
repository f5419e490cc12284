"""The demo's email: printed in its terminal like Django's console backend, but an attachment (a scheduled
report's PDF) is named with its size instead of being printed as some 1,600 lines of base64."""

from __future__ import annotations

from django.core.mail.backends.console import EmailBackend as ConsoleBackend


class EmailBackend(ConsoleBackend):
    def write_message(self, message) -> None:
        lines = [f"Subject: {message.subject}", f"From: {message.from_email}", f"To: {', '.join(message.to)}"]
        lines += ["", message.body.rstrip()]
        for alternative, mimetype in getattr(message, "alternatives", []):
            lines.append(f"[{mimetype} version: {len(alternative)} characters]")
        for attachment in message.attachments:
            name, content, mimetype = (attachment if isinstance(attachment, tuple) else (None, None, None))[:3]
            size = len(content) if content is not None else len(attachment.get_payload(decode=True) or b"")
            lines.append(
                f"[attached: {name or attachment.get_filename()} ({mimetype or attachment.get_content_type()}, {size:,} bytes)]"
            )
        self.stream.write("\n".join(lines) + "\n" + "-" * 79 + "\n")
