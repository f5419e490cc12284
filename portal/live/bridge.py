"""`LiveBridge`: the TMI side of one browser socket.

It opens the member's TMI client through the token vault (tokens refresh under the vault's lock), starts
or joins TMI's collaboration session with an `UpstreamSession`, and hands every portal frame to `deliver`
until the session ends or the browser leaves; then it leaves TMI and frees what it started. The consumer
only moves frames; Channels is not imported here, so the bench and tests can drive a bridge directly.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.exceptions import WebSocketException

from portal.accounts.tmi_failures import failure_kind
from portal.accounts.vault import SignInRequired, atmi_member
from portal.live.endings import ended_frame, failure_ending, start_failure_frame, with_words
from portal.live.selectors import alive_roles_list
from portal.live.services import alive_connection_close, alive_connection_open, alive_connection_role_set
from portal.tmi.collab import UpstreamSession, frames
from portal.tmi.collab.fanout import Fanout
from portal.tmi.collab.joins import JoinShare
from portal.tmi.collab.limits import TokenBucket
from portal.tmi.errors import TMIError

Deliver = Callable[[dict[str, Any]], Awaitable[None]]
log = logging.getLogger(__name__)

# Refused browser frames a connection may send before it is cut off: a page with a bug gets error
# frames to learn from, a hostile client cannot make the portal answer forever.
STRIKES_PER_SECOND, STRIKES_BURST = 2.0, 40.0


# What a session that could not start may fail with: the vault's, the client's, and the socket's own errors.
START_FAILURES = (SignInRequired, TMIError, WebSocketException, OSError, TimeoutError)


# One of each per organisation (a TMI server is trusted only for its own): its people joining a diagram together
# make one POST between them (portal/tmi/collab/joins.py), and what TMI sends their room is decoded once
# (portal/tmi/collab/fanout.py).
_join_shares: dict[int, JoinShare] = {}
_fanouts: dict[int, Fanout] = {}


def join_share_for(organization) -> JoinShare:
    return _join_shares.setdefault(organization.pk, JoinShare())


def fanout_for(organization) -> Fanout:
    return _fanouts.setdefault(organization.pk, Fanout())


class BridgedRoles:
    """The RoleBoard of one bridged socket: its LiveConnection row, and the rows of the organisation's
    other sockets on the same diagram."""

    def __init__(self, *, organization, diagram_id: str, channel_name: str) -> None:
        self.organization, self.diagram_id, self.channel_name = organization, diagram_id, channel_name

    async def publish(self, user_id: str, can_edit: bool) -> None:
        await alive_connection_role_set(channel_name=self.channel_name, tmi_user_id=user_id, can_edit=can_edit)

    async def others(self, since: float | None = None) -> tuple[dict[str, bool], bool]:
        return await alive_roles_list(
            organization=self.organization, diagram_id=self.diagram_id, channel_name=self.channel_name, since=since
        )


class LiveBridge:
    def __init__(
        self,
        *,
        organization,
        user,
        threat_model_id: str,
        diagram_id: str,
        channel_name: str,
        deliver: Deliver,
        **session_options: Any,
    ) -> None:
        self.organization, self.user = organization, user
        self.threat_model_id, self.diagram_id = str(threat_model_id), str(diagram_id)
        self.channel_name, self.deliver = channel_name, deliver
        self.session_options = session_options
        self.session: UpstreamSession | None = None
        self.ending: str | None = None  # the reason of the `ended` delivered, once the session is over
        self.strikes = TokenBucket(STRIKES_PER_SECOND, STRIKES_BURST)

    async def run(self) -> None:
        """Relay TMI -> browser until the live session ends (the last frame delivered is `ended`, its
        reason kept in `ending`) or the task is cancelled (the browser left). Always leaves TMI and
        removes the bookkeeping row, whichever way it ends (cancellation included)."""
        # try/finally rather than an AsyncExitStack: its deque and callback wrappers are ~1.5 KiB in every
        # bridged session. The row's delete is armed before the insert: a cancellation that lands while the
        # insert runs in its thread would otherwise leave the row behind (the delete queues behind the insert).
        try:
            try:
                connection = await alive_connection_open(
                    organization=self.organization,
                    user=self.user,
                    threat_model_id=self.threat_model_id,
                    diagram_id=self.diagram_id,
                    channel_name=self.channel_name,
                )
            except SignInRequired as exc:  # no tokens to act with: nothing was started, and no row made
                await self.end(failure_ending(failure_kind(exc)))
                return
            member = atmi_member(organization=self.organization, user=self.user, connection=connection)
            del connection  # a live diagram holds this frame for hours: the tokens live in the client's auth only
            async with member as (client, me):
                await self._relay(client, me)
        finally:
            await alive_connection_close(channel_name=self.channel_name)

    async def _relay(self, client, me) -> None:
        roles = BridgedRoles(organization=self.organization, diagram_id=self.diagram_id, channel_name=self.channel_name)
        session = UpstreamSession(
            client,
            self.threat_model_id,
            self.diagram_id,
            me,
            roles=roles,
            joins=join_share_for(self.organization),
            fanout=fanout_for(self.organization),
            deliver=self._forward,
            **self.session_options,
        )
        try:
            try:
                await session.start()
            except START_FAILURES as exc:
                log.info("live session could not start: %s", type(exc).__name__)
                await self.end_with(start_failure_frame(exc))
                return
            self.session = session
            await self.deliver(self.welcome())
            session.release()  # what the session said while starting follows the welcome
            await session.finished.wait()
        finally:
            await self._leave(session)

    async def _forward(self, frame: dict[str, Any]) -> None:
        """Every frame of the session, straight from the task that read it from TMI."""
        if frame.get("type") == "ended":
            self.ending = frame.get("reason")
        await self.deliver(with_words(frame))

    async def end(self, reason: str) -> None:
        await self.end_with(ended_frame(reason))

    async def end_with(self, frame: dict[str, Any]) -> None:
        self.ending = frame["reason"]
        await self.deliver(frame)

    @staticmethod
    async def _leave(session: UpstreamSession) -> None:
        """Leave TMI; a failure here is logged, so the bookkeeping row is still removed after it."""
        try:
            await session.close()
        except Exception:
            log.exception("leaving the TMI session failed")

    def welcome(self) -> dict[str, Any]:
        me = self.session.me if self.session else None
        return {
            "type": "welcome",
            "me": frames.person(me.provider_id, me.display_name or me.email, me.email) if me else None,
            "generation": self.session.client.server.generation if self.session else None,
            "threat_model_id": self.threat_model_id,
            "diagram_id": self.diagram_id,
        }

    async def send(self, raw: Any) -> dict[str, Any] | None:
        """One browser frame: None when it went upstream, else the `error` frame to answer with."""
        if self.session is None:
            try:
                frames.parse(raw)
            except frames.FrameError as exc:
                return exc.frame
            return frames.error("not_live", "The live session is not connected yet; try again shortly.")
        return await self.session.send(raw)

    def strike(self) -> bool:
        """Count one refused frame; False when the connection has used up its patience."""
        return self.strikes.take()
