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


# -- 1.8's document and repository URIs (api/ssrf_validator.go URIValidator.Validate, seen 2026-12-04) ----
ALLOWED_SCHEMES = ("https",)  # TMI_SSRF_{DOCUMENT,REPOSITORY}_URI_SCHEMES: https unless an operator widens it
LOCALHOST_NAMES = ("localhost", "ip6-localhost", "ip6-loopback")
CLOUD_METADATA = ipaddress.ip_address("169.254.169.254")
_PRIVATE = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)  # Go's net.IP.IsPrivate
_LINK_LOCAL = tuple(ipaddress.ip_network(n) for n in ("169.254.0.0/16", "fe80::/10", "224.0.0.0/24", "ff02::/16"))


def blocked_ip(address: str) -> str | None:
    """safehttp.CheckIP's refusal of one address, or None."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    shown = str(ip)
    if ip.is_loopback:
        return f"blocked: loopback address {shown}"
    if any(ip in net for net in _PRIVATE if net.version == ip.version):
        return f"blocked: private address {shown}"
    if ip == CLOUD_METADATA:
        return f"blocked: cloud metadata endpoint {shown}"
    if any(ip in net for net in _LINK_LOCAL if net.version == ip.version):
        return f"blocked: link-local address {shown}"
    return None


def uri_refusal(uri: str, *, resolve: bool) -> str | None:
    """Why 1.8.22 refuses a document's or repository's `uri` (400 invalid_input "invalid uri: ..."), or None.

    The real server resolves every host name at write time and refuses one that does not resolve. The
    sandbox does so only when `resolve` (its `resolve_uri_hosts` setting): it runs offline, and its seeds and
    tests name example.com-style hosts that a real server would refuse as unresolvable."""
    try:
        parts = urlsplit(uri)
        host = parts.hostname or ""
    except ValueError as exc:
        return f"invalid uri: invalid URL: {exc}"
    if not parts.scheme or not parts.netloc:
        return "invalid uri: invalid URL: missing scheme or host"
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        return f"invalid uri: unsupported scheme: {parts.scheme} (allowed: {', '.join(ALLOWED_SCHEMES)})"
    if host.lower() in LOCALHOST_NAMES:
        return "invalid uri: blocked: localhost is not allowed"
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass  # a name
    else:
        blocked = blocked_ip(host)
        return f"invalid uri: {blocked}" if blocked else None
    if not resolve:
        return None
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return f"invalid uri: cannot resolve hostname: {host}"
    blocked = next((b for b in (blocked_ip(str(info[4][0])) for info in infos) if b), None)
    return f"invalid uri: {blocked}" if blocked else None
