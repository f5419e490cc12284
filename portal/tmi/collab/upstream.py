"""`UpstreamSession`: one user's collaboration socket to TMI, speaking the portal's browser protocol.

    session = UpstreamSession(client, tm_id, diagram_id, me)     # client: an authenticated AsyncTMIClient
    await session.start()                                         # start or join over REST, then connect
    async for frame in session.messages(): ...                    # portal frames for the browser
    error = await session.send(browser_frame)                     # None, or an `error` frame for the browser
    await session.close()

or, for a relay that hands each frame on itself (the live bridge):

    session = UpstreamSession(client, tm_id, diagram_id, me, deliver=send_to_browser)
    await session.start()                                         # frames are held until release()
    session.release(); await session.finished.wait()

With `deliver`, a frame from TMI is translated and delivered by the task that read it, in one go: no queue
and no second task between TMI's socket and the browser's. Frames made elsewhere (connection states, roles,
reconnection) go out in order through a courier task.

A plain asyncio class (no Channels), so the live consumer owns one and tests drive it directly. Frames,
reconnection and endings are described in docs/live-protocol.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from websockets.exceptions import ConnectionClosed, WebSocketException

from portal.tmi.client import AsyncTMIClient
from portal.tmi.collab import frames
from portal.tmi.collab.connect import UpstreamConnection, upstream_connect
from portal.tmi.collab.endings import MAYBE_CLOSED, RECONNECT, classify_close, ended
from portal.tmi.collab.fanout import Fanout
from portal.tmi.collab.joins import JoinShare
from portal.tmi.collab.limits import Throttle, TokenBucket
from portal.tmi.collab.participants import RoleBoard
from portal.tmi.collab.translate import Effect, Emit, FetchRoles, FetchState, Send, Translator, translator_for
from portal.tmi.errors import NotFound, TMIError
from portal.tmi.failures import Failure, failure_of
from portal.tmi.generations import profile_for
from portal.tmi.models import User
from portal.tmi.retry import backoff_ceiling

# The integration guide's schedule: 1 s doubling, capped at 30 s, 5 attempts. No jitter: the page shows
# the browser each wait ("reconnecting in N s"), and one user's reconnects do not stampede TMI.
RECONNECT_DELAYS: tuple[float, ...] = tuple(backoff_ceiling(n, base=1.0, cap=30.0) for n in range(5))
MAX_INBOUND_BYTES = 16 * 2**20  # a large diagram's full state arrives in one frame
CURSOR_INTERVAL = 0.05  # at most 20 cursor positions a second go upstream
# Someone who has just joined publishes their role a moment after everyone's roster changed: look again.
ROLE_RETRY_DELAYS: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0)
# One's own role is read from TMI (a REST call) at most this often while others join and leave, and again at
# once after TMI refused one of one's edits: in a room of N joining together, N calls rather than N*N/2.
OWN_ROLE_SECONDS = 30.0
_DONE = object()
# True in the task reading TMI's socket while it applies a message (a context variable: other tasks emitting
# meanwhile, such as the browser's sends, still wake the courier).
_READING: contextvars.ContextVar[bool] = contextvars.ContextVar("upstream_reading", default=False)
log = logging.getLogger(__name__)


def _refusal(exc: Exception) -> str | None:
    """The ending a failed (re)connection means, or None when trying again may work: only a refusal of
    this person (403) or of this diagram (404) ends the session; anything else follows the schedule."""
    kind = failure_of(exc)
    if kind is Failure.FORBIDDEN:
        return "access_revoked"
    if isinstance(exc, NotFound) and "session" in exc.error_description.lower():
        return None  # the session ended between POST and ticket: a fresh POST creates another
    if kind is Failure.NOT_FOUND:
        return "not_found"
    return None


class Latch:
    """asyncio.Event's is_set / set / wait, without the waiter deque an Event makes at once (~0.7 KiB in every
    bridged session): the first wait makes one future that every waiter shares."""

    __slots__ = ("_set", "_future")

    def __init__(self) -> None:
        self._set = False
        self._future: asyncio.Future[None] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        if self._future is not None and not self._future.done():
            self._future.set_result(None)

    async def wait(self) -> None:
        if self._set:
            return
        if self._future is None:
            self._future = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._future)  # a cancelled waiter must not cancel the others' future


class UpstreamSession:
    # One per bridged browser, alive for hours: slots instead of an attribute dict (about 1.2 KiB less each).
    # fmt: off
    __slots__ = (
        "client", "threat_model_id", "diagram_id", "me", "delays", "sleep", "origin", "bucket", "throttle", "queue",
        "deliver", "held", "finished", "_outbox", "_courier", "_flushing", "translator", "created_session", "ws",
        "live", "joined_once", "ended", "_task", "roles", "can_edit", "_role_retry", "_roles_task", "_roles_wanted",
        "_roles_asked_at", "_own_role_read_at", "joins", "session_id", "fanout",
    )
    # fmt: on

    def __init__(
        self,
        client: AsyncTMIClient,
        threat_model_id: str,
        diagram_id: str,
        me: User | None = None,
        *,
        delays: Sequence[float] = RECONNECT_DELAYS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        origin: str | None = None,
        bucket: TokenBucket | None = None,
        cursor_interval: float = CURSOR_INTERVAL,
        roles: RoleBoard | None = None,
        deliver: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
        joins: JoinShare | None = None,
        fanout: Fanout | None = None,
    ) -> None:
        self.client = client
        self.threat_model_id, self.diagram_id = threat_model_id, diagram_id
        self.me = me  # the connection's identity; None: asked of TMI (userinfo) at start
        self.delays, self.sleep = tuple(delays), sleep
        self.origin = origin  # None sends no Origin header, which TMI always accepts (PROTOCOL.md 7.1)
        self.bucket = bucket or TokenBucket()
        self.throttle = Throttle(self._send_upstream, cursor_interval)
        # What messages() reads, when no `deliver` is given (a queue per bridged session would be ~3 KiB unused).
        self.queue: asyncio.Queue[Any] | None = None if deliver else asyncio.Queue()
        self.deliver = deliver or self.queue.put
        self.held = deliver is not None  # a caller that delivers itself says when to begin (release)
        self.finished = Latch()  # set once the last frame (`ended`) is delivered, or on close()
        self._outbox: list[Any] = []  # rarely more than a few frames: a deque is ~0.7 KiB in every session
        self._courier: asyncio.Task[None] | None = None  # running only while it has frames to deliver
        self._flushing = False
        self.translator: Translator | None = None
        # Whether this bridge created the TMI session (201) rather than joined one; the session itself is not
        # kept (with its participants, ~10 KiB per bridged session).
        self.created_session = False
        self.ws: UpstreamConnection | None = None
        self.live = False
        self.joined_once = False
        self.ended: str | None = None
        self._task: asyncio.Task[None] | None = None
        self.roles = roles  # None: only this connection's own role is ever shown
        self.can_edit: bool | None = None  # this connection's own role, from its own REST session
        self._role_retry: asyncio.Task[None] | None = None
        self._roles_task: asyncio.Task[None] | None = None
        self._roles_wanted = False
        self._roles_asked_at: float | None = None
        self._own_role_read_at: float | None = None
        # The sessions of this organisation's people joining together (joins.py): one POST for a roomful.
        self.joins = joins
        self.session_id: str | None = None  # of the TMI session this socket is in, while it is
        # What TMI sends the whole room, decoded once for this organisation's sockets in it (fanout.py).
        self.fanout = fanout

    # -- lifecycle --------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start or join the session and connect; TMIError or a websockets error if TMI refuses."""
        if self.client.server is None:
            await self.client.discovery()
        if self.me is None:
            info = await self.client.auth.userinfo()
            self.me = User(
                provider=info.provider, provider_id=info.provider_id, display_name=info.display_name, email=info.email
            )
        self.translator = translator_for(self.client.server.generation, self.me)
        self._emit(frames.connection("connecting"))
        await self._connect()
        self._task = asyncio.create_task(self._run())

    async def _connect(self) -> None:
        for attempt in range(2):
            session = await self._session_to_join(fresh=attempt > 0)
            self.created_session = session.created
            try:
                url = await self.client.collaboration.websocket_url(session)
                break
            except NotFound as exc:
                # TMI's cleanup may remove a session nobody has joined yet (PROTOCOL.md 6.5), and a borrowed
                # one may have ended or be closed to this person: POST for ourselves.
                if attempt or _refusal(exc) is not None:
                    raise
        self.ws = await upstream_connect(
            url,
            guard=self.client.address_guard,
            origin=self.origin,
            max_size=MAX_INBOUND_BYTES,
            # TMI never agrees to permessage-deflate (its upgrader leaves it off); not offering it keeps a
            # compression context per connection out of memory should anything between us agree.
            compression=None,
        )
        self.translator.connected()
        self.joined_once = self.live = True
        self.session_id = session.session_id
        if self.fanout is not None and self.session_id:  # a session without an id shares nothing
            self.fanout.joined(self.session_id)
        if (key := self._join_key()) is not None:
            self.joins.joined(key, session)  # type: ignore[union-attr]
        self._emit(frames.connection("live"))

    def _join_key(self) -> tuple[str, str, str] | None:
        """The key of this diagram's session in `joins`; None when it is not shared: no share given, or a
        server whose socket takes the access token itself (0.217), where TMI checks nothing before it."""
        if self.joins is None or self.client.server is None:
            return None
        if profile_for(self.client.server.generation).ws_auth != "ticket":
            return None
        return (self.client.base_url, self.threat_model_id, self.diagram_id)

    def _left(self, *, ended: bool) -> None:
        if self.fanout is not None and self.session_id:
            self.fanout.left(self.session_id)
        key = self._join_key()
        if key is not None and self.session_id is not None:
            if ended:
                self.joins.forget(key, self.session_id)  # type: ignore[union-attr]
            else:
                self.joins.left(key, self.session_id)  # type: ignore[union-attr]
        self.session_id = None

    async def _session_to_join(self, *, fresh: bool):
        def start():
            return self.client.collaboration.start_or_join(self.threat_model_id, self.diagram_id)

        key = self._join_key()
        if key is None:
            return await start()
        return await self.joins.session(key, start, fresh=fresh)  # type: ignore[union-attr]

    async def close(self) -> None:
        """Leave: close the socket, stop the background work.

        Closing the socket is how one leaves a TMI session: when the host leaves, TMI ends the session for
        everyone and tells them why (PROTOCOL.md 7.10), which a DELETE would not (its close carries no
        words, 6.2). So DELETE is sent only for a session this bridge created and never joined, which
        would otherwise linger until TMI's cleanup."""
        self.ended = self.ended or "closed"
        self.live = False
        await self.throttle.cancel()
        for task in (self._role_retry, self._roles_task):
            if task is not None:
                task.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.ws is not None:
            await self.ws.close()
        self._left(ended=self.created_session)  # the host leaving ends the session for everyone (7.10)
        if self.created_session and not self.joined_once:
            with contextlib.suppress(TMIError):
                await self.client.collaboration.leave(self.threat_model_id, self.diagram_id)
        if self._courier is not None:
            self._courier.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._courier
        self._done()

    def release(self) -> None:
        """Begin delivering (with `deliver`): what was emitted while held goes first, in order."""
        self.held = False
        self._courier_wake()

    async def messages(self) -> AsyncIterator[dict[str, Any]]:
        """Portal frames for the browser, until the session has ended (the last one is `ended`) or
        `close()` was called."""
        if self.queue is None:
            raise RuntimeError("this session delivers its frames itself (deliver=...)")
        while True:
            item = await self.queue.get()
            if item is _DONE:
                self.queue.put_nowait(_DONE)  # later readers stop too
                return
            yield item

    # -- browser -> TMI ---------------------------------------------------------------------------
    async def send(self, raw: Any) -> dict[str, Any] | None:
        """Validate, translate and forward one browser frame. Returns an `error` frame for the browser
        (nothing is forwarded) or None."""
        try:
            frame = frames.parse(raw)
        except frames.FrameError as exc:
            return exc.frame
        cursor = frame["type"] == "cursor"
        if not cursor and not self.bucket.take():  # cursors have their own throttle
            return frames.error("rate_limited", "Too many messages; slow down.")
        if not self.live or self.translator is None:
            return frames.error("not_live", "The live session is not connected right now; try again shortly.")
        try:
            effects = self.translator.translate(frame)
        except frames.FrameError as exc:
            return exc.frame
        if cursor:
            await self.throttle.offer(effects[0].message)  # type: ignore[union-attr]
        else:
            await self._apply(effects)
        return None

    # -- TMI -> browser ---------------------------------------------------------------------------
    async def _run(self) -> None:
        try:
            await self._follow()
        except Exception:  # a bug must end the session visibly, not leave the browser waiting
            log.exception("live session with TMI failed")
            self._finish("connection_lost")

    async def _follow(self) -> None:
        """Relay until the session ends, reconnecting when that may help."""
        while True:
            await self._pump()
            self.live = False
            self._left(ended=True)  # TMI closed the socket: the session may have ended
            verdict = classify_close(
                self.ws.close_code if self.ws else None,
                (self.ws.close_reason if self.ws else "") or "",
                self.translator.announced,
            )
            if verdict == MAYBE_CLOSED and await self._session_gone():
                verdict = "session_closed"
            if verdict in (RECONNECT, MAYBE_CLOSED):
                verdict = await self._reconnect()
                if verdict is None:
                    continue
            self._finish(verdict)
            return

    async def _pump(self) -> None:
        assert self.ws is not None
        with contextlib.suppress(ConnectionClosed, OSError):
            async for raw in self.ws:
                try:
                    message = json.loads(raw) if self.fanout is None else self.fanout.decode(self.session_id, raw)
                except ValueError:
                    continue
                if isinstance(message, dict) and message.get("reason") == "insufficient_permissions":
                    self._own_role_read_at = None  # TMI refused one of our edits: our role may have changed
                inline = _READING.set(True)
                try:
                    await self._apply(self.translator.inbound(message))
                finally:
                    _READING.reset(inline)
                await self._flush()

    async def _apply(self, effects: list[Effect]) -> None:
        sends: list[dict[str, Any]] = []  # messages for TMI one after another go in one write
        for effect in effects:
            if isinstance(effect, Send):
                sends.append(effect.message)
                continue
            if sends:
                await self._send_upstream(*sends)
                sends = []
            if isinstance(effect, Emit):
                self._emit(effect.frame)
            elif isinstance(effect, FetchState):
                await self._fetch_state()
            elif isinstance(effect, FetchRoles):
                self._roles_fetch()
        if sends:
            await self._send_upstream(*sends)

    async def _send_upstream(self, *messages: dict[str, Any]) -> None:
        if self.ws is None:
            return
        with contextlib.suppress(ConnectionClosed):  # the read loop sees the close and handles it
            await self.ws.send_texts([json.dumps(message, separators=(",", ":")) for message in messages])

    async def _fetch_state(self) -> None:
        try:
            diagram = await self.client.diagrams.get(self.threat_model_id, self.diagram_id)
        except TMIError:
            self._emit(frames.error("resync_failed", "The diagram could not be reloaded from TMI."))
            return
        await self._apply(self.translator.state_from_rest(diagram))

    def _roles_fetch(self) -> None:
        """Read the roles in the background (a REST call and a query must not hold up the frames behind the
        roster), one reading at a time: asked again meanwhile, it reads once more when done."""
        self._roles_asked_at = asyncio.get_running_loop().time()
        if self._roles_task is not None and not self._roles_task.done():
            self._roles_wanted = True
            return
        self._roles_task = asyncio.create_task(self._roles_follow())

    async def _roles_follow(self) -> None:
        _READING.set(False)  # started by the reading task, whose context it copied: it must wake the courier
        while True:
            try:
                while True:
                    self._roles_wanted = False
                    known = await self._roles(since=self._roles_asked_at)
                    if self.translator is None:
                        return
                    await self._apply(self.translator.roles_known(known))
                    if not self._roles_wanted:
                        break
            except Exception:  # the roster keeps the roles it had; the next change reads them again
                log.exception("reading the participants' roles failed")
            # The join's last call to TMI: a connection of the client's own is not kept for the next, maybe an
            # hour away (a connection of the loop's pool stays, for everyone's next call).
            await self.client.idle_close()
            # Until this task is done, a change that arrives only raises the flag (_roles_fetch): one that came
            # while the connection closed is read now, or its roster (a hand-over's new presenter) never goes out.
            if not self._roles_wanted:
                return

    async def _roles(self, attempt: int = 0, since: float | None = None) -> dict[str, bool]:
        """{user id: may edit}: this connection's own role as its REST session says, and the others'
        as their own sessions published them (translate.FetchRoles)."""
        own = await self._own_role()
        if own is not None and own != self.can_edit:
            self.can_edit = own
            if self.roles is not None:
                await self.roles.publish(self.me.provider_id, own)
        known: dict[str, bool] = {}
        if self.roles is not None:
            # A read begun before the change that asked for it may miss whoever just joined.
            known, pending = await self.roles.others(asyncio.get_running_loop().time() if since is None else since)
            if pending and attempt < len(ROLE_RETRY_DELAYS) and self._role_retry is None:
                self._role_retry = asyncio.create_task(self._roles_again(attempt))
        if self.can_edit is not None:
            known[self.me.provider_id] = self.can_edit
        return known

    async def _roles_again(self, attempt: int) -> None:
        _READING.set(False)
        await self.sleep(ROLE_RETRY_DELAYS[attempt])
        self._role_retry = None
        if self.live and self.translator is not None:
            await self._apply(self.translator.roles_known(await self._roles(attempt + 1)))

    async def _own_role(self) -> bool | None:
        now = asyncio.get_running_loop().time()
        if self._own_role_read_at is not None and now - self._own_role_read_at < OWN_ROLE_SECONDS:
            return self.can_edit
        try:
            session = await self.client.collaboration.get(self.threat_model_id, self.diagram_id)
        except TMIError:
            return None  # unknown this time
        self._own_role_read_at = now
        mine = (
            next((p for p in session.participants if p.user.provider_id == self.me.provider_id), None)
            if session
            else None
        )
        return None if mine is None or not mine.permissions else mine.permissions == "writer"

    def _emit(self, frame: Any) -> None:
        self._outbox.append(frame)
        if not _READING.get():  # the reading task flushes as soon as it has applied the message
            self._courier_wake()

    def _courier_wake(self) -> None:
        if self.finished.is_set():  # `ended` went out, or close(): nothing follows it
            return
        if self._courier is None or self._courier.done():
            self._courier = asyncio.create_task(self._courier_run())

    def _finish(self, reason: str) -> None:
        self.ended = reason
        if reason == "connection_lost":
            self._emit(frames.connection("lost"))
        self._emit(ended(reason))
        self._emit(_DONE)

    async def _courier_run(self) -> None:
        """Delivers what is emitted outside the reading task (and what waited while held), then ends: what is
        emitted while it delivers joins the same flush, and a later emit starts another courier."""
        try:
            await self._flush()
        except Exception:
            log.exception("delivering a live frame failed")
            self._done()

    async def _flush(self) -> None:
        """Deliver the outbox in order; one flush at a time (a second caller leaves it to the first)."""
        if self._flushing or self.held:
            return
        self._flushing = True
        try:
            while self._outbox:
                item = self._outbox.pop(0)
                if item is _DONE:
                    self._outbox.clear()
                    self._done()
                    return
                await self.deliver(item)
        finally:
            self._flushing = False

    def _done(self) -> None:
        if not self.finished.is_set():
            self.finished.set()
            if self.queue is not None:
                self.queue.put_nowait(_DONE)

    # -- reconnection -----------------------------------------------------------------------------
    async def _session_gone(self) -> bool:
        """After a close with no status: is the session still there? (The host's DELETE and the cleanup
        timer look the same on the socket, PROTOCOL.md 6.2, 6.5.)"""
        try:
            return await self.client.collaboration.get(self.threat_model_id, self.diagram_id) is None
        except TMIError:
            return False  # cannot tell: reconnecting will

    async def _reconnect(self) -> str | None:
        """Try again on the guide's schedule. None when live again, or the ending reason."""
        for attempt, delay in enumerate(self.delays, start=1):
            self._emit(frames.connection("reconnecting", attempt=attempt, retry_in=delay))
            await self.sleep(delay)
            try:
                await self._connect()
            except (TimeoutError, TMIError, WebSocketException, OSError) as exc:
                refusal = _refusal(exc)
                if refusal is not None:
                    return refusal
                continue
            return None
        return "connection_lost"
