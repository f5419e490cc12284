"""Opening the collaboration socket to TMI under the client's address guard (addresses.py).

websockets parses the URL; the guard checks its scheme, user-info and host, resolves the host once and
checks every answer; the TCP connection goes to the checked address (`host=`), while the Host header
and TLS (SNI, certificate) keep the name from the URL. Redirects are never followed, with or without
a guard: the handshake's 3xx is raised as websockets' InvalidStatus, like any refusal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.datastructures import Headers
from websockets.uri import parse_uri

from portal.tmi.addresses import AddressGuard


class UpstreamConnection(ClientConnection):
    """websockets' client connection, with several messages sent in one write."""

    async def send_texts(self, texts: Sequence[str]) -> None:
        """Text messages, in order, in one write to the socket: an edit and the request behind it that tells when
        TMI has handled it (translate.py) go as one packet, one system call, one wakeup of TMI's reader."""
        async with self.send_context():  # checks the connection is open; then flow control, as `send` does
            for text in texts:
                self.protocol.send_text(text.encode())
            self.transport.write(b"".join(self.protocol.data_to_send()))


class _NoRedirects(connect):
    def process_redirect(self, exc: Exception) -> Exception | str:
        return exc


async def upstream_connect(url: str, *, guard: AddressGuard | None, **kwargs: Any) -> UpstreamConnection:
    """`websockets.asyncio.client.connect(url, **kwargs)`, refusing what the guard refuses
    (AddressNotAllowed, before connecting) and never following a redirect."""
    return _handshake_forgotten(await _open(url, guard=guard, create_connection=UpstreamConnection, **kwargs))


def _handshake_forgotten(ws: UpstreamConnection) -> UpstreamConnection:
    """Drop the handshake's headers, which the connection keeps as long as it is open (about 3 KiB per
    bridged session) and nothing reads afterwards. `response` itself stays: websockets takes the first
    event after a missing one for the handshake's answer."""
    ws.request = None
    if ws.response is not None:
        ws.response.headers = Headers()
    return ws


async def _open(url: str, *, guard: AddressGuard | None, **kwargs: Any) -> UpstreamConnection:
    if guard is None:
        return await _NoRedirects(url, **kwargs)
    uri = parse_uri(url)
    scheme = "wss" if uri.secure else "ws"
    _, host, port = guard.parts(scheme, uri.host, uri.port, userinfo=uri.username is not None)
    addresses = await guard.aresolve(host, port)
    for address in addresses[:-1]:  # every one checked; the next is tried when one refuses the connection
        try:
            return await _NoRedirects(url, host=str(address), port=port, proxy=None, **kwargs)
        except ConnectionRefusedError:
            continue
    # proxy=None: a proxy would resolve the name again itself.
    return await _NoRedirects(url, host=str(addresses[-1]), port=port, proxy=None, **kwargs)
