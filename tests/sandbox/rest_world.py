"""Raw-httpx clients for the REST tests, signed in as the seeded users (see portal/sandbox/seed.py).

Seeded role matrix, model 1 "Customer Payments API": alice owner, bob writer, carol reader, dave none.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from portal.sandbox import seed
from portal.sandbox.server import SandboxServer

PAYMENTS = "Customer Payments API"
JSON_PATCH = {"Content-Type": "application/json-patch+json"}
ROLE_ON_PAYMENTS = {"alice": "owner", "bob": "writer", "carol": "reader", "dave": None}


class Api:
    """One signed-in user talking to a running sandbox."""

    def __init__(self, server: SandboxServer, hint: str) -> None:
        self.server = server
        self.user = seed.ensure_user(server.state, hint)
        token = server.state.issue_tokens(self.user)["access_token"]
        self.http = httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10)

    @property
    def legacy(self) -> bool:
        return self.server.state.config.is_legacy

    def get(self, path: str, **kw) -> httpx.Response:
        return self.http.get(path, **kw)

    def post(self, path: str, body: Any = None, **kw) -> httpx.Response:
        return self.http.post(path, json=body, **kw)

    def put(self, path: str, body: Any = None, **kw) -> httpx.Response:
        return self.http.put(path, json=body, **kw)

    def patch(self, path: str, ops: list[dict[str, Any]], headers: dict[str, str] | None = None) -> httpx.Response:
        return self.http.patch(path, content=json.dumps(ops), headers={**JSON_PATCH, **(headers or {})})

    def delete(self, path: str, **kw) -> httpx.Response:
        return self.http.delete(path, **kw)


def tm_id(name: str = PAYMENTS) -> str:
    return seed.sid("tm", name)


def items(response: httpx.Response, key: str, legacy: bool) -> list[dict[str, Any]]:
    """The list's items: 1.8 wraps them under `key`, 0.217 sends a plain array."""
    assert response.status_code == 200, response.text[:500]
    body = response.json()
    if legacy:
        assert isinstance(body, list)
        return body
    assert set(body) == {key, "total", "limit", "offset"}
    return body[key]


def error(response: httpx.Response, status: int, code: str) -> str:
    """Assert a TMI error response and return its description."""
    assert response.status_code == status, response.text[:500]
    body = response.json()
    assert body["error"] == code, body
    return body["error_description"]


def threat_body(legacy: bool, **extra: Any) -> dict[str, Any]:
    return {"name": "Replay of stolen tokens", "threat_type": "Spoofing" if legacy else ["Spoofing"], **extra}


CHILD_BODIES: dict[str, dict[str, Any]] = {
    "documents": {"name": "Runbook", "uri": "https://wiki.example.com/runbook"},
    "assets": {"name": "Card data", "type": "data"},
    "notes": {"name": "Kick-off", "content": "# Notes\n\nFirst meeting."},
    "repositories": {"uri": "https://github.com/example/payments"},
}


def child_body(collection: str, legacy: bool) -> dict[str, Any]:
    if collection == "threats":
        return threat_body(legacy)
    if collection == "diagrams":
        return {"name": "Context", "type": "DFD-1.0.0"}
    return dict(CHILD_BODIES[collection])


def first_child(server: SandboxServer, collection: str, name: str = PAYMENTS) -> dict[str, Any]:
    return server.state.threat_models[tm_id(name)][collection][0]
