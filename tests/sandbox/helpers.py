"""Sign in to a running sandbox the way a real client does, with raw httpx (PROTOCOL.md 8)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

# Allowed by the sandbox's default 1.8 allow-list; 0.217 accepts any http(s) URL.
CLIENT_CALLBACK = "http://127.0.0.1:8000/callback"
TEST_IDPS = ("tmi", "test")


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def find_test_idp(client: httpx.Client) -> str:
    """The id of the generation's built-in test IdP, as /oauth2/providers lists it."""
    providers = client.get("/oauth2/providers").raise_for_status().json()["providers"]
    return next(p["id"] for p in providers if p["id"] in TEST_IDPS)


def authorize(
    client: httpx.Client,
    idp: str,
    hint: str | None,
    *,
    challenge: str,
    state: str = "helper-state",
    client_callback: str = CLIENT_CALLBACK,
) -> httpx.Response:
    params = {
        "idp": idp,
        "scope": "openid profile email",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "client_callback": client_callback,
        "state": state,
    }
    if hint is not None:
        params["login_hint"] = hint
    return client.get("/oauth2/authorize", params=params)


def code_from_redirect(response: httpx.Response) -> str:
    """The code in a 302 Location. `parse_qs` also copes with the double-`?` quirk."""
    assert response.status_code == 302, response.text
    return parse_qs(urlsplit(response.headers["location"]).query)["code"][0]


def exchange(client: httpx.Client, idp: str, code: str, verifier: str) -> httpx.Response:
    return client.post(
        f"/oauth2/token?idp={idp}",
        json={
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": CLIENT_CALLBACK,
        },
    )


def login(base_url: str, hint: str) -> dict[str, Any]:
    """The token response JSON for the test IdP user `hint` (alice, bob, carol, dave...)."""
    with httpx.Client(base_url=base_url, timeout=10) as client:
        client.get("/").raise_for_status()
        idp = find_test_idp(client)
        verifier, challenge = pkce_pair()
        code = code_from_redirect(authorize(client, idp, hint, challenge=challenge))
        return exchange(client, idp, code, verifier).raise_for_status().json()


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


# -- the sandbox's test-only control routes (not part of TMI) -----------------------------------
def add_fault(base_url: str, **spec: Any) -> dict[str, Any]:
    """Register a fault: path_prefix, method, status, retry_after, latency_ms, times, body."""
    response = httpx.post(f"{base_url}/_sandbox/faults", json=spec, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def clear_faults(base_url: str) -> None:
    httpx.delete(f"{base_url}/_sandbox/faults", timeout=10).raise_for_status()


def advance_clock(base_url: str, seconds: float) -> None:
    """Move the sandbox's clock forward: tokens and 10-minute OAuth records expire without waiting."""
    httpx.post(f"{base_url}/_sandbox/clock", json={"advance_seconds": seconds}, timeout=10).raise_for_status()


def requests_at_once(base_url: str) -> int:
    """The most TMI calls the sandbox had open at once since the last `count_requests_afresh`."""
    return httpx.get(f"{base_url}/_sandbox/requests").json()["most_in_flight"]


def requests_seen(base_url: str, route: str) -> int:
    """How many calls `route` ("GET /") got since the last `count_requests_afresh` (or the reset)."""
    return httpx.get(f"{base_url}/_sandbox/requests").json()["seen"].get(route, 0)


def count_requests_afresh(base_url: str) -> None:
    httpx.delete(f"{base_url}/_sandbox/requests").raise_for_status()
