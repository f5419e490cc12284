"""1.8 service accounts in the sandbox: /me/client_credentials and the client_credentials grant."""

from __future__ import annotations

import httpx
import jwt
import pytest

from portal.sandbox.seed import sid
from tests.sandbox.helpers import advance_clock, bearer, login

PAYMENTS = sid("tm", "Customer Payments API")  # alice owns it; dave has no role on it


def _grant(base_url: str, client_id: str, client_secret: str) -> httpx.Response:
    return httpx.post(
        f"{base_url}/oauth2/token",
        json={"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret},
        timeout=10,
    )


@pytest.fixture
def server18(sandbox_factory):
    return sandbox_factory("1.8", administrators=["alice"])


def test_only_administrators_may_create_credentials(sandbox_factory):
    """The real 1.8.22: an ordinary user's create is 403 (their list is open and empty); an administrator's 201."""
    server = sandbox_factory("1.8", administrators=["alice"])
    bob = login(server.base_url, "bob")
    url = f"{server.base_url}/me/client_credentials"
    refused = httpx.post(url, headers=bearer(bob), json={"name": "x"}, timeout=10)
    assert refused.status_code == 403
    assert refused.json() == {
        "error": "forbidden",
        "error_description": "Only administrators and security reviewers can create client credentials",
    }
    assert httpx.get(url, headers=bearer(bob), timeout=10).json()["total"] == 0
    alice = login(server.base_url, "alice")
    assert httpx.post(url, headers=bearer(alice), json={"name": "x"}, timeout=10).status_code == 201


@pytest.fixture
def alice_credential(server18):
    alice = login(server18.base_url, "alice")
    response = httpx.post(
        f"{server18.base_url}/me/client_credentials",
        headers=bearer(alice),
        timeout=10,
        json={"name": "Nightly exports", "description": "portal schedules"},
    )
    assert response.status_code == 201, response.text
    return alice, response.json()


def test_the_secret_is_shown_once_and_kept_only_as_a_hash(server18, alice_credential):
    alice, created = alice_credential
    assert created["client_id"].startswith("tmi_cc_") and len(created["client_secret"]) == 43  # as the real 1.8.22
    listed = httpx.get(f"{server18.base_url}/me/client_credentials", headers=bearer(alice), timeout=10).json()
    assert listed["total"] == 1 and listed["credentials"][0]["id"] == created["id"]
    assert "client_secret" not in listed["credentials"][0]
    stored = server18.app.state.sandbox.credentials[created["id"]]
    assert created["client_secret"] not in repr(stored)
    bob = login(server18.base_url, "bob")
    assert httpx.get(f"{server18.base_url}/me/client_credentials", headers=bearer(bob), timeout=10).json()["total"] == 0


def test_the_grant_issues_a_service_token_that_acts_as_its_owner(server18, alice_credential):
    _, created = alice_credential
    response = _grant(server18.base_url, created["client_id"], created["client_secret"])
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["refresh_token"] == "" and tokens["token_type"] == "bearer"
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    alice_sub = server18.app.state.sandbox.find_user("alice@tmi.local").provider_id
    assert claims["sub"] == f"sa:{created['id']}:{alice_sub}"
    assert claims["name"] == "[Service Account] Nightly exports" and claims["tmi_is_administrator"] is True
    assert "set-cookie" not in response.headers
    model = httpx.get(f"{server18.base_url}/threat_models/{PAYMENTS}", headers=bearer(tokens), timeout=10)
    assert model.status_code == 200 and model.json()["id"] == PAYMENTS
    assert claims["sub"] in server18.app.state.sandbox.seen_subjects
    # A service account may not mint more credentials.
    more = httpx.post(
        f"{server18.base_url}/me/client_credentials", headers=bearer(tokens), json={"name": "x"}, timeout=10
    )
    assert more.status_code == 403


def test_what_a_service_account_writes_is_signed_with_its_name_and_status_is_not_its_to_change(
    server18, alice_credential
):
    """The real 1.8.22: a model a service account creates names it as owner and creator (with its owner's
    ids), and PATCH /status wants an add-on's delegation token instead."""
    _, created = alice_credential
    tokens = _grant(server18.base_url, created["client_id"], created["client_secret"]).json()
    made = httpx.post(f"{server18.base_url}/threat_models", headers=bearer(tokens), json={"name": "By the robot"})
    assert made.status_code == 201, made.text
    for field in ("owner", "created_by"):
        assert made.json()[field]["display_name"] == "[Service Account] Nightly exports"
        assert made.json()[field]["email"] == "alice@tmi.local"
    status = httpx.patch(
        f"{server18.base_url}/threat_models/{made.json()['id']}",
        headers={**bearer(tokens), "Content-Type": "application/json-patch+json"},
        json=[{"op": "replace", "path": "/status", "value": "in_review"}],
    )
    assert status.status_code == 403
    assert "X-TMI-Delegation-Token" in status.json()["error_description"]


def test_a_wrong_secret_or_a_deleted_credential_is_invalid_client(server18, alice_credential):
    alice, created = alice_credential
    wrong = _grant(server18.base_url, created["client_id"], created["client_secret"] + "x")
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    tokens = _grant(server18.base_url, created["client_id"], created["client_secret"]).json()
    gone = httpx.delete(f"{server18.base_url}/me/client_credentials/{created['id']}", headers=bearer(alice), timeout=10)
    assert gone.status_code == 204
    again = _grant(server18.base_url, created["client_id"], created["client_secret"])
    assert again.status_code == 401 and again.json()["error"] == "invalid_client"
    # the real 1.8.22 honours a token already issued until it expires
    assert httpx.get(f"{server18.base_url}/threat_models", headers=bearer(tokens), timeout=10).status_code == 200
    missing = httpx.delete(
        f"{server18.base_url}/me/client_credentials/{created['id']}", headers=bearer(alice), timeout=10
    )
    assert missing.status_code == 404


def test_service_tokens_and_credentials_expire_on_the_sandbox_clock(server18):
    alice = login(server18.base_url, "alice")
    created = httpx.post(
        f"{server18.base_url}/me/client_credentials",
        headers=bearer(alice),
        timeout=10,
        json={"name": "short", "expires_at": "2099-01-01T00:00:00Z"},
    ).json()
    tokens = _grant(server18.base_url, created["client_id"], created["client_secret"]).json()
    advance_clock(server18.base_url, tokens["expires_in"] + 1)
    assert httpx.get(f"{server18.base_url}/threat_models", headers=bearer(tokens), timeout=10).status_code == 401
    assert _grant(server18.base_url, created["client_id"], created["client_secret"]).status_code == 200
    server18.app.state.sandbox.clock_offset += 100 * 365 * 86400  # past 2099
    assert _grant(server18.base_url, created["client_id"], created["client_secret"]).status_code == 401


def test_bad_create_bodies_are_refused(server18):
    alice = login(server18.base_url, "alice")
    for body in ({}, {"name": ""}, {"name": "x" * 101}, {"name": "x", "description": 5}):
        response = httpx.post(
            f"{server18.base_url}/me/client_credentials", headers=bearer(alice), json=body, timeout=10
        )
        assert response.status_code == 400, body
    assert httpx.get(f"{server18.base_url}/me/client_credentials", timeout=10).status_code == 401


def test_0217_has_neither_the_routes_nor_the_grant(sandbox_factory):
    server = sandbox_factory("0.217")
    alice = login(server.base_url, "alice")
    routes = httpx.post(
        f"{server.base_url}/me/client_credentials", headers=bearer(alice), json={"name": "x"}, timeout=10
    )
    assert routes.status_code in (404, 405)
    grant = _grant(server.base_url, "tmi_cc_x", "s")
    assert grant.status_code == 400


def test_revoke_accepts_client_credentials_instead_of_a_bearer(server18, alice_credential):
    alice, created = alice_credential
    body = {"token": alice["refresh_token"], "token_type_hint": "refresh_token"}
    refused = httpx.post(
        f"{server18.base_url}/oauth2/revoke",
        timeout=10,
        json={**body, "client_id": created["client_id"], "client_secret": "wrong"},
    )
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    accepted = httpx.post(
        f"{server18.base_url}/oauth2/revoke",
        timeout=10,
        json={**body, "client_id": created["client_id"], "client_secret": created["client_secret"]},
    )
    assert accepted.status_code == 200
    reuse = httpx.post(
        f"{server18.base_url}/oauth2/refresh", json={"refresh_token": alice["refresh_token"]}, timeout=10
    )
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"  # revoked
