"""Live collaboration with TMI in the portal's own browser protocol (docs/live-protocol.md).

frames.py        the browser protocol: limits, validation of browser frames, frame builders
translate.py     TMI 1.8 / 0.217 messages <-> portal frames (pure: effects, no I/O)
participants.py  the roster: people in portal terms and the TMI user objects to send back
ledger.py        operations in flight: acknowledgements, nothing applied twice
endings.py       how a session ends (reason codes); which closes are worth a reconnect
limits.py        the per-connection token bucket and the cursor throttle
upstream.py      UpstreamSession: the socket, reconnection with backoff, resync
joins.py         JoinShare: one POST /collaborate for an organisation's people joining a diagram together
fanout.py        Fanout: what TMI sends a whole room, decoded and made into a frame once for its sockets here
connect.py       opening the socket under the address guard; several messages in one write
"""

from portal.tmi.collab.frames import FrameError
from portal.tmi.collab.translate import Translator, Translator0217, Translator18, translator_for
from portal.tmi.collab.upstream import RECONNECT_DELAYS, UpstreamSession

__all__ = [
    "FrameError",
    "RECONNECT_DELAYS",
    "Translator",
    "Translator0217",
    "Translator18",
    "UpstreamSession",
    "translator_for",
]
