"""A cap on the calls open at one TMI server at once, shared by everything an application runs against it.

A real TMI 0.217 holds a database transaction while it waits for more of its ten connections, so about seven
requests at once deadlock it until it restarts (PROTOCOL.md 12b). A cap per client or per page cannot prevent
that when pages, exports and live sessions run in several processes. So the application hands each client a
`Gate` for its server (the portal's are in portal/organizations/tmi_gates.py: file locks on one machine, Redis
across machines), and the client's transport holds one of its places from just before a request is sent until
its response has been read. A token refresh happens before that (in the auth flow), so a request never waits for
a second place while it holds one.

No place free within the request's pool timeout (the client's timeout, or what is left of a page's deadline):
the request fails as `PoolTimeout`, which the client reports as a timeout that never reached the server.
"""

from __future__ import annotations

import contextlib
from typing import Protocol


class Gate(Protocol):
    def hold(self, wait: float | None) -> contextlib.AbstractContextManager[None]:
        """One place, waiting at most `wait` seconds (None: the gate's own limit); raises TimeoutError."""

    def ahold(self, wait: float | None) -> contextlib.AbstractAsyncContextManager[None]:
        """The async twin."""


# The auth-flow paths a TMI server rate-limits together per client address (1.8.22: 100 in any 60 s; 0.217.8:
# 100 a minute), whoever calls them: PROTOCOL.md 12.13, 12b.2.
AUTH_FLOW_PATHS = ("/oauth2/authorize", "/oauth2/callback", "/oauth2/token", "/oauth2/refresh", "/oauth2/introspect")


def is_auth_flow(path: str) -> bool:
    path = path.rstrip("/")
    return any(path.endswith(p) for p in AUTH_FLOW_PATHS)


class Budget(Protocol):
    """Calls to a server's auth-flow paths within a sliding window, shared by everything an application runs
    against that server (the portal's: portal/organizations/tmi_budget.py). The client's transport takes one
    place before it sends an auth-flow request; with none free in time it sends nothing and answers the
    request itself as TMI would, 429 `rate_limit_exceeded` with Retry-After, so callers meet one kind of
    refusal. A 429 from the server is reported back, so that no caller tries before its Retry-After."""

    def take(self, wait: float | None) -> float | None:
        """One call, waiting at most `wait` seconds (None: the budget's own limit): None when taken, else the
        seconds until a place is expected to be free."""

    async def atake(self, wait: float | None) -> float | None:
        """The async twin."""

    def refused(self, retry_after: float | None) -> None:
        """The server answered an auth-flow call 429, asking to wait `retry_after` seconds (None: unsaid)."""
