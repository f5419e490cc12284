"""Which servers the client may connect to: the address guard.

An application that lets people type a TMI address hands the client an `AddressGuard`, so that the
address cannot be used to reach what sits beside the application (loopback services, internal ranges,
cloud metadata). The guard is consulted before any byte is sent:

    guard = AddressGuard(["public", "tmi.corp.example", "10.20.0.0/16", "127.0.0.1:8080"])
    scheme, host, port = guard.target(url)        # http(s)/ws(s), no user-info, else AddressNotAllowed
    addresses = guard.resolve(host, port)         # DNS once; every answer checked; connect to addresses[0]

Entries:
- `public`: any public address (not loopback, private, link-local, shared, reserved, documentation...);
- a host name (exact, case-insensitive): that name, whatever it resolves to;
- an IP address or network in CIDR notation: any name resolving into it;
- any of these followed by `:port` (IPv6 in brackets: `[fd00::1]:8443`): that port only.

Some addresses are refused even when an entry covers them, because no TMI server lives there and
reaching them is only ever an attack: the unspecified address (0.0.0.0 reaches loopback), multicast,
broadcast, IPv4's reserved 240/4 and the cloud metadata services.

The transport (`_http.guarded_transport`) and the collaboration socket (`collab/connect.py`) resolve a
name once per connection with `resolve`, then connect to the checked address itself while keeping the
name for the Host header and TLS (SNI and certificate), so DNS cannot answer differently in between.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from portal.tmi.errors import AddressNotAllowed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[str]]

PUBLIC = "public"
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}

# Cloud metadata and neighbouring services: AWS (IMDS, ECS task metadata, DNS, time, IPv6 IMDS),
# GCP and Azure (169.254.169.254), Alibaba (100.100.100.200), Oracle (192.0.0.192).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",
        "169.254.170.2",
        "169.254.169.253",
        "169.254.169.123",
        "169.254.169.250",
        "100.100.100.200",
        "192.0.0.192",
        "fd00:ec2::254",
        "fd00:ec2::23",
        "fd00:ec2::123",
    )
)
_NEVER_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",  # "this network": connecting to 0.0.0.0 reaches the machine itself
        "240.0.0.0/4",
        "255.255.255.255/32",
        "224.0.0.0/4",
        "::/128",
        "ff00::/8",
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LABEL = r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system's resolver gives for the name (socket.gaierror when there is none)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def embedded_ipv4(ip: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address stands for (mapped, NAT64, 6to4), else the address itself:
    ::ffff:127.0.0.1 is loopback, 64:ff9b::a9fe:a9fe is the metadata service."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if ip.sixtofour is not None:
            return ip.sixtofour
    return ip


def never_allowed(ip: IPAddress) -> bool:
    inner = embedded_ipv4(ip)
    return any(address in METADATA_ADDRESSES or any(address in n for n in _NEVER_NETWORKS) for address in {ip, inner})


def is_public(ip: IPAddress) -> bool:
    """A global unicast address: not loopback, private, link-local, shared (100.64/10), site-local,
    documentation, benchmarking, Teredo or reserved, also when it stands for an IPv4 address."""
    if never_allowed(ip):
        return False
    address = embedded_ipv4(ip)
    if not address.is_global or address.is_multicast or address.is_reserved or address.is_link_local:
        return False
    return not (isinstance(address, ipaddress.IPv6Address) and (address.is_site_local or address.teredo is not None))


def _normal_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


@dataclass(frozen=True)
class Entry:
    """One allowed server: a host name or a network, on any port or one."""

    host: str | None = None
    network: IPNetwork | None = None
    port: int | None = None

    def matches(self, host: str, ip: IPAddress, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.host is not None:
            return self.host == host
        assert self.network is not None
        return any(
            address.version == self.network.version and address in self.network for address in {ip, embedded_ipv4(ip)}
        )


def _port(text: str, entry: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{entry!r}: the port must be a number from 1 to 65535")
    return int(text)


def parse_entry(entry: str) -> Entry | None:
    """An `Entry`, or None for `public`; ValueError naming the entry when it means nothing."""
    text = entry.strip().lower()
    if text == PUBLIC:
        return None
    port: int | None = None
    if text.startswith("["):  # [IPv6]:port or [IPv6/prefix]:port
        inside, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"{entry!r}: write an IPv6 address with a port as [address]:port")
            port = _port(rest[1:], entry)
        text = inside
    elif text.count(":") == 1:  # host:port, IPv4:port or IPv4/prefix:port (more colons: IPv6)
        text, port_text = text.split(":")
        port = _port(port_text, entry)
    try:
        return Entry(network=ipaddress.ip_network(text, strict=False), port=port)
    except ValueError:
        pass
    host = _normal_host(text)
    if not _HOST_NAME.match(host):
        raise ValueError(f"{entry!r} is neither a host name, an IP address or network, nor 'public'")
    return Entry(host=host, port=port)


class AddressGuard:
    """The servers the client may connect to. `allowed` are entries as described above; `resolver`
    (host, port) -> addresses is the system's unless a test injects one."""

    def __init__(self, allowed: Iterable[str] = (PUBLIC,), *, resolver: Resolver = system_resolver) -> None:
        self.public = False
        entries: list[Entry] = []
        for item in allowed:
            if not item.strip():
                continue
            entry = parse_entry(item)
            if entry is None:
                self.public = True
            else:
                entries.append(entry)
        self.entries = tuple(entries)
        self.resolver = resolver

    def __repr__(self) -> str:
        return f"AddressGuard(public={self.public}, entries={len(self.entries)})"

    def target(self, url: str) -> tuple[str, str, int]:
        """(scheme, host, port) of a URL the client may use as far as the URL itself tells; see `parts`."""
        try:
            split = urlsplit(url)
            port = split.port
        except ValueError:
            raise AddressNotAllowed("the address is not a valid URL", host="") from None
        has_userinfo = split.username is not None or split.password is not None or "@" in split.netloc
        return self.parts(split.scheme, split.hostname or "", port, userinfo=has_userinfo)

    def parts(self, scheme: str, host: str, port: int | None, *, userinfo: bool) -> tuple[str, str, int]:
        """http(s) or ws(s), a host, no user-info (credentials in a URL would be sent to whoever answers).
        Callers pass the parts as their HTTP library parsed them, so both read the URL alike."""
        scheme, host = scheme.lower(), _normal_host(host)
        if scheme not in DEFAULT_PORTS:
            raise AddressNotAllowed(f"scheme {scheme!r} is not used for TMI", host=host)
        if userinfo:
            raise AddressNotAllowed("addresses with user-info are not used for TMI", host=host)
        if not host:
            raise AddressNotAllowed("the address names no server", host="")
        return scheme, host, port or DEFAULT_PORTS[scheme]

    def allows(self, host: str, ip: IPAddress, port: int) -> bool:
        if never_allowed(ip):
            return False
        if any(entry.matches(host, ip, port) for entry in self.entries):
            return True
        return self.public and is_public(ip)

    def check(self, host: str, port: int, addresses: Iterable[str]) -> list[IPAddress]:
        """The addresses, each checked; AddressNotAllowed when any one is refused, so a name that
        answers with a public and an internal address cannot choose which one is used."""
        host = _normal_host(host)
        checked: list[IPAddress] = []
        for text in addresses:
            try:
                ip = ipaddress.ip_address(text.split("%")[0] if "%" in text else text)
            except ValueError:
                raise AddressNotAllowed("the resolver answered something that is not an address", host=host) from None
            if not self.allows(host, ip, port):
                raise AddressNotAllowed("the address is not an allowed TMI server", host=host)
            checked.append(ip)
        if not checked:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return checked

    def _literal(self, host: str) -> list[str] | None:
        try:
            return [str(ipaddress.ip_address(_normal_host(host)))]
        except ValueError:
            return None

    def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Resolve once and check every answer: the addresses to connect to, in the resolver's order.
        AddressNotAllowed, or OSError (socket.gaierror) when the name does not resolve."""
        host = _normal_host(host)
        return self.check(host, port, self._literal(host) or self.resolver(host, port))

    async def aresolve(self, host: str, port: int) -> list[IPAddress]:
        """`resolve` without blocking the event loop (the resolver runs in a thread)."""
        host = _normal_host(host)
        addresses = self._literal(host)
        if addresses is None:
            addresses = await asyncio.get_running_loop().run_in_executor(None, self.resolver, host, port)
        return self.check(host, port, addresses)
