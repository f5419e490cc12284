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
