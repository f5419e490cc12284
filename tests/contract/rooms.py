"""A shared diagram on a running sandbox, and the way into its collaboration session, over real sockets.

Every REST call goes through the recorder's validating transport and every frame through `ContractSocket`,
so setting up a room is itself checked against the contracts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from portal.conformance.contract.recorder import ContractRecorder
from tests.contract.sockets import ContractSocket
from tests.sandbox import helpers


def sign_in(client: httpx.Client, hint: str) -> str:
    """An access token for the test-IdP user `hint`, by the real authorize + token exchange."""
    idp = helpers.find_test_idp(client)
    verifier, challenge = helpers.pkce_pair()
    code = helpers.code_from_redirect(helpers.authorize(client, idp, hint, challenge=challenge))
    return helpers.exchange(client, idp, code, verifier).raise_for_status().json()["access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def node(cell_id: str, label: str = "Web App", x: float = 100) -> dict[str, Any]:
    return {
        "id": cell_id,
        "shape": "process",
        "position": {"x": x, "y": 80},
        "size": {"width": 120, "height": 60},
        "attrs": {"text": {"text": label}},
    }


@dataclass
class Room:
    """One threat model owned by alice, with `roles` for the others, and one diagram to collaborate on."""

    recorder: ContractRecorder
    client: httpx.Client
    tokens: dict[str, str]
    threat_model_id: str = ""
    diagram_id: str = ""
    sockets: list[ContractSocket] = field(default_factory=list)

    @property
    def generation(self) -> str:
        return self.recorder.generation

    def create(self, roles: dict[str, str]) -> Room:
        idp = helpers.find_test_idp(self.client)
        acl = [
            {"principal_type": "user", "provider": idp, "provider_id": hint, "role": role}
            for hint, role in roles.items()
        ]
        tm = (
            self.client.post(
                "/threat_models",
                json={"name": "Contract room", "authorization": acl},
                headers=bearer(self.tokens["alice"]),
            )
            .raise_for_status()
            .json()
        )
        diagram = (
            self.client.post(
                f"/threat_models/{tm['id']}/diagrams",
                json={"name": "Flows", "type": "DFD-1.0.0"},
                headers=bearer(self.tokens["alice"]),
            )
            .raise_for_status()
            .json()
        )
        self.threat_model_id, self.diagram_id = tm["id"], diagram["id"]
        return self

    @property
    def collaborate_path(self) -> str:
        return f"/threat_models/{self.threat_model_id}/diagrams/{self.diagram_id}/collaborate"

    def websocket_url(self, hint: str) -> str:
        """Start or join the session over REST, then the generation's socket credential: a ticket at 1.8
        (PROTOCOL.md 6.3), the access token itself at 0.217 (9.5)."""
        token = self.tokens[hint]
        session = self.client.post(self.collaborate_path, headers=bearer(token)).raise_for_status().json()
        url = session["websocket_url"]
        separator = "&" if "?" in url else "?"
        if self.generation == "0.217":
            return f"{url}{separator}token={token}"
        ticket = (
            self.client.get("/ws/ticket", params={"session_id": session["session_id"]}, headers=bearer(token))
            .raise_for_status()
            .json()["ticket"]
        )
        return f"{url}{separator}ticket={ticket}"

    async def join(self, hint: str) -> ContractSocket:
        socket = await ContractSocket.open(self.recorder, self.websocket_url(hint), hint)
        self.sockets.append(socket)
        return socket

    async def close(self) -> None:
        for socket in self.sockets:
            await socket.close()
        self.client.close()


def open_room(base_url: str, recorder: ContractRecorder, transport: httpx.BaseTransport, roles: dict[str, str]) -> Room:
    client = httpx.Client(base_url=base_url, transport=transport, timeout=10)
    tokens = {hint: sign_in(client, hint) for hint in ("alice", *roles)}
    return Room(recorder, client, tokens).create(roles)
