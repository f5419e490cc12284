"""What kind of failure an error of the client is: the one classification every caller decides from.

    kind = failure_of(error)        # a Failure, or None for an exception the client never raises
    if kind is Failure.TRANSIENT: ...   # trying again later may work

The kinds say what can help, not which words to show: words belong to the portal (per page, sign-in,
export, connection check, live session), which maps these kinds to sentences of its own. "Transient" is
decided here and nowhere else; the retry policy (retry.py) and every caller derive from it.
"""

from __future__ import annotations

import enum

from websockets.exceptions import InvalidStatus, WebSocketException

from portal.tmi.errors import (
    AddressNotAllowed,
    APIConnectionError,
    MalformedResponse,
    NotSupported,
    TMIError,
    TMIStatusError,
    Unauthorized,
)


class Failure(enum.Enum):
    TRANSIENT = "transient"  # unreachable, slow, overloaded (429) or failing (5xx): later may work
    SIGN_IN = "sign_in"  # TMI does not accept the credentials (401, a refused refresh token or client secret)
    FORBIDDEN = "forbidden"  # signed in, but not allowed this (403)
    NOT_FOUND = "not_found"  # TMI has no such thing (404, 410)
    UNSUPPORTED = "unsupported"  # the server does not offer this (another generation; 405, 406, 415, 501)
    MALFORMED = "malformed"  # an answer, but not TMI's JSON of the expected shape
    NOT_ALLOWED = "not_allowed"  # the address guard refused the server before anything was sent
    REFUSED = "refused"  # any other refusal of the request itself (400, 409, 428, ...): the same fails again

    @property
    def transient(self) -> bool:
        return self is Failure.TRANSIENT


# Statuses that mean "the server does not offer this", not "you may not" or "it is broken".
_UNSUPPORTED_STATUSES = frozenset({405, 406, 415, 501})


def failure_of_status(status: int) -> Failure:
    """The kind of an HTTP error status (a response's, or a WebSocket handshake's)."""
    if status == 401:
        return Failure.SIGN_IN
    if status == 403:
        return Failure.FORBIDDEN
    if status in (404, 410):
        return Failure.NOT_FOUND
    if status in _UNSUPPORTED_STATUSES:
        return Failure.UNSUPPORTED
    if status in (408, 429) or status >= 500:
        return Failure.TRANSIENT
    return Failure.REFUSED


def failure_of(error: BaseException) -> Failure | None:
    """The kind of anything the client raises (its errors, and what the collaboration socket lets through:
    websockets' refused handshake, OS and timeout errors). None for anything else: a bug, not TMI."""
    if isinstance(error, Unauthorized):
        return Failure.SIGN_IN  # RefreshFailed keeps TMI's real status (400), but means the same
    if isinstance(error, TMIStatusError):
        # The class first: an error recast to another class (errors.TMIStatusError.recast, e.g. 0.217's 401
        # for a missing permission as Forbidden) keeps TMI's real status but means what its class says.
        return failure_of_status(type(error).status_code or error.status_code)
    if isinstance(error, APIConnectionError):  # timeouts included
        return Failure.TRANSIENT
    if isinstance(error, AddressNotAllowed):
        return Failure.NOT_ALLOWED
    if isinstance(error, NotSupported):
        return Failure.UNSUPPORTED
    if isinstance(error, (MalformedResponse, TMIError)):
        return Failure.MALFORMED
    if isinstance(error, InvalidStatus):
        return failure_of_status(error.response.status_code)
    if isinstance(error, WebSocketException):
        return Failure.TRANSIENT  # a handshake cut short or a socket closed while opening
    if isinstance(error, (OSError, TimeoutError)):
        return Failure.TRANSIENT  # the collaboration socket's connect: refused, reset, unreachable, slow
    return None
