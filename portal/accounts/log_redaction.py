"""Keep TMI tokens out of logs even at DEBUG.

httpcore's DEBUG trace writes every response's headers, and TMI 1.8 answers a token exchange
with `Set-Cookie: tmi_access_token=...; tmi_refresh_token=...`. Whoever turns DEBUG on to chase
a bug must not find members' tokens in the log, so these records are redacted at the source.
"""

from __future__ import annotations

import logging
import re

_SECRETS = re.compile(
    r"(?P<key>tmi_(?:access|refresh)_token=|(?:access|refresh)_token['\"]?\s*[:=]\s*['\"]?|bearer\s+)"
    r"[A-Za-z0-9._~+/=-]+",
    re.IGNORECASE,
)
# Loggers whose records may carry raw HTTP headers (filters do not propagate to child loggers).
HTTP_TRACE_LOGGERS = ("httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy", "httpx")


def redact(text: str) -> str:
    return _SECRETS.sub(lambda m: m.group("key") + "[redacted]", text)


class TokenRedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def token_redaction_install() -> None:
    for name in HTTP_TRACE_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, TokenRedactingFilter) for f in logger.filters):
            logger.addFilter(TokenRedactingFilter())
