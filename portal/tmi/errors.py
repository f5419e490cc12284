"""Everything the client raises: one base, then connection, timeout, malformed-body and per-status errors.

TMI answers errors as `{"error", "error_description", "details"}` (PROTOCOL.md 2.2), some OAuth branches
as a bare `{"error": "..."}` (3.4, 9.2), and proxies in front of it may answer HTML. All three are parsed.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from typing import Any

from portal.tmi import _http


class TMIError(Exception):
    """Base of every error the TMI client raises."""


class APIConnectionError(TMIError):
    """The request did not complete: refused, reset, DNS failure...

    `connected` is False when the request surely never reached the server (safe to retry a POST).
    """

    def __init__(self, message: str, *, method: str = "", url: str = "", connected: bool = True) -> None:
        super().__init__(message)
        self.method = method
        self.url = url
        self.connected = connected


class APITimeoutError(APIConnectionError):
    """The server did not answer in time."""


class AddressNotAllowed(TMIError):
    """The address guard (addresses.py) refused the server before anything was sent: not an allowed TMI
    server, credentials in the URL, a scheme TMI does not use. Not a connection error: trying again
    cannot help, so nothing retries it. `host` is for logs; what the name resolved to is not kept."""

    def __init__(self, message: str, *, host: str = "") -> None:
        super().__init__(message)
        self.host = host


class NotSupported(TMIError):
    """The operation does not exist in the server's TMI generation (e.g. WebSocket tickets at 0.217)."""


class MalformedResponse(TMIError):
    """The server answered, but not with JSON of the expected shape."""

    def __init__(
        self, message: str, *, status_code: int | None = None, method: str = "", url: str = "", body: str = ""
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.method = method
        self.url = url
        self.body = body[:2000]


class TMIStatusError(TMIError):
    """TMI answered with an error status. Carries TMI's error body and the request that failed."""

    status_code: int = 0

    def __init__(
        self,
        *,
        status_code: int,
        error: str,
        error_description: str = "",
        details: Any = None,
        headers: Mapping[str, str] | None = None,
        method: str = "",
        url: str = "",
        body: str = "",
    ) -> None:
        self.status_code = status_code
        self.error = error
        self.error_description = error_description
        self.details = details
        self.headers = {k.lower(): v for k, v in (headers or {}).items()}
        self.method = method
        self.url = url
        self.body = body[:2000]
        text = f"{status_code} {error}" + (f": {error_description}" if error_description else "")
        super().__init__(f"{method} {url} -> {text}" if method else text)

    @property
    def retry_after(self) -> float | None:
        """Seconds the server asked to wait (429 and 503 carry Retry-After), if it said."""
        return parse_retry_after(self.headers.get("retry-after"))

    def recast(self, cls: type[TMIStatusError]) -> TMIStatusError:
        """The same error as another class, where the status alone misleads (e.g. a refused refresh token)."""
        return cls(
            status_code=self.status_code,
            error=self.error,
            error_description=self.error_description,
            details=self.details,
            headers=self.headers,
            method=self.method,
            url=self.url,
            body=self.body,
        )


class BadRequest(TMIStatusError):
    status_code = 400


class Unauthorized(TMIStatusError):
    status_code = 401


class RefreshFailed(Unauthorized):
    """The refresh token was refused (reused, expired, revoked): the user must sign in again.

    A subclass of Unauthorized so one `except Unauthorized` sends the user to sign in. `status_code`
    keeps TMI's real status (400 in both generations: PROTOCOL.md 3.6 and 9.2).
    """


class ClientCredentialsRefused(Unauthorized):
    """TMI refused a client id and secret (1.8: 401 invalid_client): unknown, wrong, expired or deleted.
    Asking again with the same pair cannot help; someone must issue new credentials."""


class Forbidden(TMIStatusError):
    status_code = 403


class NotFound(TMIStatusError):
    status_code = 404


class MethodNotAllowed(TMIStatusError):
    status_code = 405


class NotAcceptable(TMIStatusError):
    status_code = 406


class Conflict(TMIStatusError):
    status_code = 409


class VersionMismatch(Conflict):
    """An If-Match (1.8 optimistic locking) no longer matches the stored version."""


class UnsupportedMediaType(TMIStatusError):
    status_code = 415


class PreconditionRequired(TMIStatusError):
    status_code = 428


class RateLimited(TMIStatusError):
    status_code = 429


class InternalServerError(TMIStatusError):
    status_code = 500


class BadGateway(TMIStatusError):
    status_code = 502


class ServiceUnavailable(TMIStatusError):
    status_code = 503


class GatewayTimeout(TMIStatusError):
    status_code = 504


class UnexpectedStatus(TMIStatusError):
    """Any other error status."""


_BY_STATUS: dict[int, type[TMIStatusError]] = {
    cls.status_code: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        NotAcceptable,
        Conflict,
        UnsupportedMediaType,
        PreconditionRequired,
        RateLimited,
        InternalServerError,
        BadGateway,
        ServiceUnavailable,
        GatewayTimeout,
    )
}


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date. None if absent or invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def error_body(text: str) -> tuple[str, str, Any]:
    """(error, error_description, details) from any error body; non-JSON bodies keep their text."""
    try:
        data = json.loads(text) if text else None
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        description = data.get("error_description") or data.get("message") or ""
        return data["error"], str(description), data.get("details")
    return "", text.strip()[:500], None


# The real 0.217.8 answers a method a path does not take with 400 {"error": "invalid_input",
# "error_description": "method not allowed"} and an Allow header, not 405.
METHOD_NOT_ALLOWED_0217 = "method not allowed"


def status_error(response: _http.Response, *, error_class: type[TMIStatusError] | None = None) -> TMIStatusError:
    """The exception for an error response."""
    text = response.text
    error, description, details = error_body(text)
    status = response.status_code
    cls = error_class or _BY_STATUS.get(status, UnexpectedStatus)
    if status == 409 and error == "version_mismatch":
        cls = VersionMismatch
    if status == 400 and error == "invalid_input" and description == METHOD_NOT_ALLOWED_0217 and error_class is None:
        cls = MethodNotAllowed  # 0.217.8's wrong method: its status stays 400, its meaning is a 405's
    return cls(
        status_code=status,
        error=error or response.reason_phrase,
        error_description=description,
        details=details,
        headers=response.headers,
        method=response.request.method,
        url=str(response.request.url),
        body=text,
    )
