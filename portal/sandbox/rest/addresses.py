"""Which URIs point inside the network: 1.8 resolves a document's host and refuses loopback, private,
link-local and other non-public addresses (PROTOCOL.md 12.2), so TMI cannot be made to fetch from inside."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


def _internal(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def internal_address(uri: str) -> str | None:
    """The first internal address the URI's host resolves to, or None. A host that does not resolve is let
    through: the sandbox has no network, and the real server's answer for it was not recorded."""
    try:
        host = urlsplit(uri.strip()).hostname
    except ValueError:
        return None
    if not host:
        return None
    try:
        return host if _internal(host) else None
    except ValueError:
        pass  # a name, not an address literal
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return None
    return next((info[4][0] for info in infos if _internal(str(info[4][0]))), None)
