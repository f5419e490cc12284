"""The world the live-relay benchmark runs in: a TMI sandbox and one daphne, each a child process (so
each has its own CPU time and its own memory to measure), N people signed in at the sandbox through its
real OAuth flow, one threat model and diagram per room, and the portal's rows for those people
(organisation membership, tokens in the vault, a Django session each)."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from portal.devtools.processes import Child
from portal.tmi import AsyncTMIClient, TokenPair, pkce
from portal.tmi.models import UserInfo

CALLBACK = "http://127.0.0.1:8000/callback"  # on the sandbox's allow-list; never visited
ORG_SLUG = "bench"
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Person:
    """One simulated participant: a TMI identity, and later a portal user with a session cookie."""

    hint: str
    tokens: TokenPair
    info: UserInfo
    user_pk: int | None = None
    session_key: str = ""

    def tmi_user(self) -> dict[str, str]:
        return {
            "principal_type": "user",
            "provider": self.info.provider,
            "provider_id": self.info.provider_id,
            "display_name": self.info.display_name,
            "email": self.info.email,
        }


@dataclass
class Room:
    """One diagram that `people` edit together; `node` is the cell every round moves."""

    index: int
    threat_model_id: str
    diagram_id: str
    node: dict[str, Any]
    people: list[Person] = field(default_factory=list)


def rss_kib(pid: int) -> int:
    """Resident memory of a process (VmRSS), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_s(pid: int) -> float:
    """CPU seconds a process has used so far (user and system, all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


async def sandbox_calls(base_url: str, *, reset: bool = False) -> dict[str, int]:
    """The TMI calls the sandbox has answered since the counts were last reset, by route (ids as {id})."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        response = await http.request("DELETE" if reset else "GET", "/_sandbox/requests")
        response.raise_for_status()
    by_route: dict[str, int] = {}
    for route, count in response.json()["seen"].items():
        shape = _ID.sub("{id}", route)
        by_route[shape] = by_route.get(shape, 0) + count
    return by_route


def raise_open_files_limit() -> int:
    """Lift the soft limit on open files to the hard one: each browser is a socket here, and two in
    daphne (the child inherits the limit)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


# -- processes ------------------------------------------------------------------------------------


class SandboxProcess:
    """`python -m portal.sandbox` on a port it picks itself; the URL is read from its banner."""

    def __init__(self, generation: str, log_path: Path) -> None:
        self.log_path = log_path
        self.child = Child(
            "TMI sandbox",
            # --no-rate-limits: the bench signs its hundreds of people in from one address, which 0.217's limits
            # (100 auth calls a minute per address) would refuse; what it measures is the relay, not sign-in.
            [
                sys.executable,
                "-m",
                "portal.sandbox",
                "--port",
                "0",
                "--seed",
                "none",
                "--tmi-version",
                generation,
                "--no-rate-limits",
            ],
            log_path=log_path,
        )
        self.base_url = ""

    def __enter__(self) -> SandboxProcess:
        self.child.start({**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.child.process.poll() is not None:
                raise RuntimeError(f"the sandbox exited while starting:\n{self._log()}")
            for line in self._log().splitlines():
                if "listening on " in line:
                    self.base_url = line.split("listening on ", 1)[1].strip().rstrip("/")
                    return self
            time.sleep(0.1)
        self.child.stop()
        raise RuntimeError(f"the sandbox did not start within 60 s:\n{self._log()}")

    def _log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def pid(self) -> int:
        return self.child.process.pid

    def __exit__(self, *exc: Any) -> None:
        self.child.stop()


class ListeningProcess:
    """A server child on a socket bound here and passed down (`--fd`), so the port is known before it
    starts; ready once `ready_path` answers below 500."""

    name = "server"
    ready_path = "/"

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.sock: socket.socket | None = None
        self.child: Child | None = None
        self.port = 0

    def argv(self, fd: int) -> list[str]:
        raise NotImplementedError

    def __enter__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit it: no answer waits on the client's delayed ACK (40 ms a request).
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.port = self.sock.getsockname()[1]
        fd = self.sock.fileno()
        self.child = Child(
            self.name,
            self.argv(fd),
            ready_url=f"http://127.0.0.1:{self.port}{self.ready_path}",
            pass_fds=(fd,),
            log_path=self.log_path,
        )
        try:
            self.child.start(self.env)
            self.child.wait_ready(timeout=60)
        except BaseException as error:
            self.__exit__()
            log = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
            raise RuntimeError(f"{error}; {self.name}'s log:\n{log}") from error
        return self

    @property
    def pid(self) -> int:
        return self.child.process.pid

    def alive(self) -> bool:
        return self.child is not None and self.child.process is not None and self.child.process.poll() is None

    def __exit__(self, *exc: Any) -> None:
        if self.child is not None:
            self.child.stop()
        if self.sock is not None:
            self.sock.close()


class DaphneProcess(ListeningProcess):
    """One daphne serving portal.asgi:application, configured as in production (DEBUG off) on the bench
    database."""

    name = "daphne"
    ready_path = "/healthz/"

    def argv(self, fd: int) -> list[str]:
        return [sys.executable, "-m", "daphne", "--fd", str(fd), "-v", "0", "portal.asgi:application"]

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def socket_url(self, room: Room) -> str:
        return (
            f"ws://127.0.0.1:{self.port}/ws/o/{ORG_SLUG}/threat-models/{room.threat_model_id}"
            f"/diagrams/{room.diagram_id}/live/"
        )


class FloorProcess(ListeningProcess):
    """The floor: a bare websockets relay in one process (bench/live_floor.py)."""

    name = "floor relay"

    def argv(self, fd: int) -> list[str]:
        return [sys.executable, "-m", "bench.live_floor", "--fd", str(fd)]

    def relay_url(self, upstream_url: str) -> str:
        return f"ws://127.0.0.1:{self.port}/?{urlencode({'upstream': upstream_url})}"


# -- TMI: people and rooms ------------------------------------------------------------------------


async def _sign_in(http: httpx.AsyncClient, idp: str, hint: str) -> Person:
    """The test IdP's authorization-code flow with PKCE, as the portal's sign-in does it."""
    verifier, state = pkce.code_verifier(), pkce.new_state()
    authorize = await http.get(
        "/oauth2/authorize",
        params={
            "idp": idp,
            "scope": "openid profile email",
            "code_challenge": pkce.code_challenge(verifier),
            "code_challenge_method": "S256",
            "state": state,
            "client_callback": CALLBACK,
            "login_hint": hint,
        },
    )
    if authorize.status_code != 302:
        raise RuntimeError(f"sign-in of {hint} refused: {authorize.status_code} {authorize.text[:200]}")
    code = parse_qs(urlsplit(authorize.headers["location"]).query)["code"][0]
    token = await http.post(
        "/oauth2/token",
        params={"idp": idp},
        json={"grant_type": "authorization_code", "code": code, "code_verifier": verifier, "redirect_uri": CALLBACK},
    )
    tokens = TokenPair.model_validate(token.raise_for_status().json())
    info = await http.get("/oauth2/userinfo", headers={"Authorization": f"Bearer {tokens.access_token}"})
    return Person(hint=hint, tokens=tokens, info=UserInfo.model_validate(info.raise_for_status().json()))


async def people_sign_in(base_url: str, hints: list[str], *, concurrency: int, progress) -> list[Person]:
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as http:
        providers = (await http.get("/oauth2/providers")).raise_for_status().json()["providers"]
        idp = next(p["id"] for p in providers if p["id"] in ("tmi", "test"))
        gate = asyncio.Semaphore(concurrency)
        done = 0

        async def one(hint: str) -> Person:
            nonlocal done
            async with gate:
                person = await _sign_in(http, idp, hint)
            done += 1
            progress("signed in at TMI", done, len(hints))
            return person

        return list(await asyncio.gather(*(one(hint) for hint in hints)))


def _acl_entry(person: Person, generation: str) -> dict[str, str]:
    # 0.217 matches user entries by email (PROTOCOL.md 9.3); 1.8 by (provider, provider_id).
    subject = person.info.email if generation == "0.217" else person.info.provider_id
    return {"principal_type": "user", "provider": person.info.provider, "provider_id": subject, "role": "writer"}


def _node(index: int) -> dict[str, Any]:
    node_id = str(uuid.uuid4())
    return {
        "id": node_id,
        "shape": "process",
        "position": {"x": 100, "y": 80},
        "size": {"width": 120, "height": 60},
        "attrs": {"text": {"text": f"Bench node {index}"}},
    }


async def rooms_create(
    base_url: str, owner: Person, groups: list[list[Person]], *, generation: str, concurrency: int
) -> list[Room]:
    """One threat model per room, owned by `owner`, its people writers; one diagram with one node."""
    gate = asyncio.Semaphore(concurrency)
    async with AsyncTMIClient(base_url, auth=owner.tokens) as tmi:

        async def one(index: int, people: list[Person]) -> Room:
            async with gate:
                tm = await tmi.threat_models.create(
                    name=f"Bench room {index + 1}", authorization=[_acl_entry(p, generation) for p in people]
                )
                diagram = await tmi.diagrams.create(tm.id, f"Room {index + 1}")
                node = _node(index)
                await tmi.diagrams.patch(tm.id, diagram.id, [{"op": "replace", "path": "/cells", "value": [node]}])
                return Room(index, str(tm.id), str(diagram.id), node, people)

        return list(await asyncio.gather(*(one(i, people) for i, people in enumerate(groups))))


async def rooms_wait_closed(base_url: str, owner: Person, rooms: list[Room], timeout: float = 30.0) -> None:
    """Until TMI has no live session on any room's diagram (the previous phase has fully left)."""
    deadline = time.monotonic() + timeout
    async with AsyncTMIClient(base_url, auth=owner.tokens) as tmi:
        waiting = list(rooms)
        while waiting:
            found = await asyncio.gather(*(tmi.collaboration.get(r.threat_model_id, r.diagram_id) for r in waiting))
            waiting = [room for room, session in zip(waiting, found) if session is not None]
            if waiting and time.monotonic() > deadline:
                raise RuntimeError(f"{len(waiting)} TMI sessions were still open {timeout:.0f} s after leaving")
            if waiting:
                await asyncio.sleep(0.2)


# -- the portal's rows ----------------------------------------------------------------------------


def portal_members_create(base_url: str, people: list[Person]) -> None:
    """Organisation `bench` on the sandbox; each person a member with their tokens in the vault and a
    signed-in Django session (what a browser holds after signing in), written in one transaction."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.db import transaction

    from portal.accounts.sessions import SessionStore
    from portal.accounts.vault import tmi_connection_store
    from portal.organizations.models import Organization

    with transaction.atomic():
        organization = Organization.objects.create(name="Bench", slug=ORG_SLUG, tmi_base_url=base_url)
        for person in people:
            user = get_user_model().objects.create(username=person.hint, email=person.info.email)
            organization.memberships.create(user=user, role="member")
            tmi_connection_store(
                organization=organization,
                user=user,
                tokens=person.tokens,
                provider=person.info.provider,
                subject=person.info.provider_id,
                email=person.info.email,
                display_name=person.info.display_name,
            )
            session = SessionStore()
            session[SESSION_KEY] = str(user.pk)
            session[BACKEND_SESSION_KEY] = "portal.accounts.backend.TMIOAuth2"  # as a member who signed in
            session[HASH_SESSION_KEY] = user.get_session_auth_hash()
            session.create()
            person.user_pk, person.session_key = user.pk, session.session_key
