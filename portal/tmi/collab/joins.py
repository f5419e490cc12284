"""`JoinShare`: the TMI session of a diagram, looked up once for the people of one organisation who join it.

TMI keeps one collaboration session per diagram, and POST /collaborate answers every caller with that same
session (PROTOCOL.md 6.2). When ten people open a diagram together, one POST now serves them all: the others
take its session id and socket address, and each asks TMI for a ticket of their own. The ticket is where
TMI checks each person's access (6.3: an unknown session, or one the caller may not read, is a 404), so no
one's access is lent to another: only an id and an address pass between their sessions, never what TMI
answered the first, and a 404 there sends the borrower to POST for themselves. Checked on the real 1.8.22.

Only for servers that hand out tickets (1.8): at 0.217 the socket takes the access token itself.

    share = JoinShare()
    session = await share.session(key, lambda: client.collaboration.start_or_join(tm, d))
    share.joined(key, session)                  # connected: lent while this socket is in it
    share.left(key, session.session_id)         # this socket left (the last to leave takes it along)
    share.forget(key, session.session_id)       # TMI closed this socket, or its host left: it may have ended
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable

from portal.tmi.models import CollaborationSession

# A session POSTed but not yet joined by anyone here is lent for this long: TMI drops a session nobody has
# joined within about 15 s (PROTOCOL.md 6.5). One that somebody here has joined is lent until the last of
# them has left, or until one of their sockets is closed (the session may have ended).
UNJOINED_SECONDS = 5.0
KEPT = 4096  # diagrams remembered at once; past that, the idle go, then all (each costs one POST more)


def _address_only(session: CollaborationSession) -> CollaborationSession:
    """What a borrower may use: where to connect. Not the participants, names or host the leader was told."""
    return CollaborationSession(
        session_id=session.session_id,
        threat_model_id=session.threat_model_id,
        diagram_id=session.diagram_id,
        websocket_url=session.websocket_url,
    )


class _Known:
    __slots__ = ("session", "at", "holders")

    def __init__(self, session: CollaborationSession, at: float) -> None:
        self.session, self.at, self.holders = session, at, 0


class JoinShare:
    """One process's sessions for one organisation's TMI server (the caller keys by diagram; never share
    one between organisations: a TMI server is trusted only for its own)."""

    def __init__(self, *, unjoined_seconds: float = UNJOINED_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.unjoined_seconds, self.clock = unjoined_seconds, clock
        self._known: dict[Hashable, _Known] = {}
        self._asking: dict[Hashable, asyncio.Future[CollaborationSession | None]] = {}

    async def session(
        self, key: Hashable, start: Callable[[], Awaitable[CollaborationSession]], *, fresh: bool = False
    ) -> CollaborationSession:
        """The session to join. A borrowed one has only its address, and `created` False. `start` is the
        caller's own POST, made when nothing is known or being asked, or when the POST of whoever was asking
        failed (perhaps only for them). `fresh`: what is known is not taken (its ticket was refused); a POST
        being made is still waited for."""
        known = None if fresh else self._lendable(key)
        if known is not None:
            return known.session
        loop = asyncio.get_running_loop()
        asking = self._asking.get(key)
        if asking is not None and asking.get_loop() is loop:
            answer = await asyncio.shield(asking)  # the asker leaving must not cancel the waiters
            return answer if answer is not None else await start()
        future: asyncio.Future[CollaborationSession | None] = loop.create_future()
        self._asking[key] = future
        answer = None
        try:
            session = await start()
            if session.session_id:
                answer = _address_only(session)
                self._remember(key, answer)
            return session
        finally:
            if self._asking.get(key) is future:
                del self._asking[key]
            future.set_result(answer)  # None (failed, cancelled, no id): each waiter asks for themselves

    def joined(self, key: Hashable, session: CollaborationSession) -> None:
        """A socket of this process is in the session: it is lent until that socket goes (left or forget)."""
        if not session.session_id:
            return
        known = self._known.get(key)
        if known is None or known.session.session_id != session.session_id:
            known = self._remember(key, _address_only(session))
        known.holders += 1

    def left(self, key: Hashable, session_id: str | None) -> None:
        """A socket that joined it has closed. The last one to leave takes it along."""
        known = self._known.get(key)
        if known is not None and known.session.session_id == session_id:
            known.holders -= 1
            if known.holders <= 0:
                del self._known[key]

    def forget(self, key: Hashable, session_id: str | None) -> None:
        """It may have ended (TMI closed a socket in it, or its host left): the next joiner asks TMI."""
        known = self._known.get(key)
        if known is not None and known.session.session_id == session_id:
            del self._known[key]

    def _lendable(self, key: Hashable) -> _Known | None:
        known = self._known.get(key)
        if known is None or known.holders > 0 or self.clock() - known.at < self.unjoined_seconds:
            return known
        del self._known[key]
        return None

    def _remember(self, key: Hashable, session: CollaborationSession) -> _Known:
        now = self.clock()
        if key not in self._known and len(self._known) >= KEPT:
            for old in [k for k, v in self._known.items() if v.holders <= 0 and now - v.at >= self.unjoined_seconds]:
                del self._known[old]
            if len(self._known) >= KEPT:
                self._known.clear()
        known = self._known[key] = _Known(session, now)
        return known
