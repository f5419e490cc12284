"""The portal's TMI client against the sandbox, every exchange checked against the OpenAPI document of the
generation: the client's requests and the sandbox's responses alike (the `contract` fixture fails the test on
any violation tests/contract/deviations.py does not excuse)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from portal.conformance.contract.violations import ViolationPattern
from portal.tmi import errors
from portal.tmi.client import AsyncTMIClient, TMIClient
from portal.tmi.models import TokenPair
from tests.contract.rooms import node
from tests.sandbox.helpers import CLIENT_CALLBACK, pkce_pair

SignIn = Callable[[str], TMIClient]
MISSING_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def sandbox(sandbox_factory, generation):
    """The seeded sandbox with alice among TMI's administrators: only administrators and security reviewers
    may create client credentials (the real 1.8.22 answers anyone else 403)."""
    return sandbox_factory(generation, administrators=["alice"])


@pytest.fixture
def connect(sandbox, validating_transport) -> Iterator[Callable[..., TMIClient]]:
    """TMI clients on the validating transport; `connect(auth=...)` for a signed-in one."""
    clients: list[TMIClient] = []

    def client(auth=None) -> TMIClient:
        clients.append(TMIClient(sandbox.base_url, auth=auth, transport=validating_transport, max_retries=0))
        return clients[-1]

    yield client
    for opened in clients:
        opened.close()


@pytest.fixture
def sign_in(connect) -> SignIn:
    """A client signed in as the test-IdP user `hint`, by the client's own authorize + code exchange."""
    return lambda hint: connect(auth=authorize_and_exchange(connect(), hint))


def authorize_and_exchange(client: TMIClient, hint: str) -> TokenPair:
    provider = client.auth.test_provider()
    verifier, challenge = pkce_pair()
    url = client.auth.authorize_url(
        provider, state="contract-state", code_challenge=challenge, client_callback=CLIENT_CALLBACK, login_hint=hint
    )
    redirect = client.http.get(url)  # the browser's step; TMI answers 302 to the client callback (PROTOCOL.md 3.2)
    assert redirect.status_code == 302, redirect.text
    code = parse_qs(urlsplit(redirect.headers["location"]).query)["code"][0]
    return client.auth.exchange_code(code, verifier, redirect_uri=CLIENT_CALLBACK, idp=provider.id)


def test_discovery_sign_in_refresh_and_logout(connect, sign_in, generation):
    anonymous = connect()
    assert anonymous.discovery().generation == generation
    if generation == "1.8":
        assert anonymous.config() is not None  # GET /config exists only at 1.8 (PROTOCOL.md 9.1)
    assert {p.id for p in anonymous.auth.providers()} >= {"tmi" if generation == "1.8" else "test"}

    alice = sign_in("alice")
    assert alice.auth.userinfo().email.startswith("alice@")
    assert alice.auth.me().email.startswith("alice@")
    pair = alice.auth.refresh(alice.tokens.refresh_token)
    if generation == "1.8":  # RFC 7009 revocation of one token (PROTOCOL.md 3.9)
        alice.auth.revoke(alice.tokens.access_token, token_type_hint="access_token", access_token=pair.access_token)
    alice.auth.logout(pair)
    with pytest.raises(errors.Unauthorized):
        connect(auth=pair.access_token).auth.userinfo()


def test_threat_model_lifecycle(sign_in, generation):
    alice = sign_in("alice")
    created = alice.threat_models.create(name="Contract TM", description="checked against the spec")
    assert created.id in [tm.id for tm in alice.threat_models.list(limit=100).items]
    fetched = alice.threat_models.get(created.id)
    assert fetched.name == "Contract TM"
    # display_name and email are response-only (PROTOCOL.md 4)
    acl = [
        {"principal_type": a.principal_type, "provider": a.provider, "provider_id": a.provider_id, "role": a.role}
        for a in fetched.authorization
    ]
    framework = {"threat_model_framework": "STRIDE"}  # required by the 0.217 PUT (PROTOCOL.md 9.3)
    assert alice.threat_models.update(created.id, name="Renamed", authorization=acl, **framework).name == "Renamed"
    patched = alice.threat_models.patch(
        created.id, [{"op": "add", "path": "/description", "value": "patched"}], if_match="*"
    )  # If-Match and ETag at 1.8; not sent at 0.217 (5.1, 9.3)
    assert patched.description == "patched"
    assert created.id in [tm.id for tm in alice.threat_models.iter()]
    alice.threat_models.delete(created.id)
    with pytest.raises(errors.NotFound):
        alice.threat_models.get(created.id)


CHILDREN = {
    "threats": ({"name": "Spoofing", "threat_type": ["Spoofing"], "severity": "high"}, "description"),
    "documents": ({"name": "Design", "uri": "https://example.com/design"}, "description"),
    "assets": ({"name": "Customer data", "type": "data"}, "description"),
    "notes": ({"name": "Kick-off", "content": "# Notes"}, "content"),
    "repositories": ({"name": "Code", "uri": "https://example.com/repo.git"}, "description"),
}


def _second_create(alice, generation: str, tm_id: str, key: str, value: str, **child) -> None:
    """A second POST of a key: 409 at 1.8 (PROTOCOL.md 5.6); the real 0.217.8 replaces the value (201)."""
    if generation == "1.8":
        with pytest.raises(errors.Conflict):
            alice.metadata.create(tm_id, key, value, **child)
    else:
        assert alice.metadata.create(tm_id, key, value, **child).value == value


@pytest.mark.parametrize("kind", sorted(CHILDREN))
def test_child_lifecycle_and_metadata(sign_in, kind, generation):
    alice = sign_in("alice")
    tm = alice.threat_models.create(name=f"TM with {kind}")
    resource = getattr(alice, kind)
    body, field = CHILDREN[kind]
    item = resource.create(tm.id, body)
    assert [i.id for i in resource.list(tm.id).items] == [item.id]
    assert resource.get(tm.id, item.id).name == body["name"]
    assert resource.update(tm.id, item.id, {**body, field: "updated"}).name == body["name"]
    resource.patch(tm.id, item.id, [{"op": "replace", "path": "/name", "value": "patched"}])
    assert resource.get(tm.id, item.id).name == "patched"

    alice.metadata.create(tm.id, "team", "red", kind=kind, item_id=item.id)
    _second_create(alice, generation, tm.id, "team", "again", kind=kind, item_id=item.id)
    assert [m.key for m in alice.metadata.list(tm.id, kind=kind, item_id=item.id)] == ["team"]
    assert alice.metadata.set(tm.id, "team", "blue", kind=kind, item_id=item.id).value == "blue"
    assert alice.metadata.get(tm.id, "team", kind=kind, item_id=item.id).value == "blue"
    alice.metadata.delete(tm.id, "team", kind=kind, item_id=item.id)
    resource.delete(tm.id, item.id)
    assert resource.list(tm.id).items == []


def test_threat_model_metadata(sign_in, generation):
    alice = sign_in("alice")
    tm = alice.threat_models.create(name="TM with metadata")
    alice.metadata.create(tm.id, "owner-team", "platform")
    _second_create(alice, generation, tm.id, "owner-team", "again")
    assert alice.metadata.set(tm.id, "owner-team", "security").value == "security"
    assert [(m.key, m.value) for m in alice.metadata.list(tm.id)] == [("owner-team", "security")]
    assert alice.metadata.get(tm.id, "owner-team").value == "security"
    alice.metadata.delete(tm.id, "owner-team")
    alice.metadata.bulk_create(tm.id, [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}])
    alice.metadata.bulk_replace(tm.id, [{"key": "a", "value": "one"}])
    assert {m.key: m.value for m in alice.metadata.list(tm.id)}["a"] == "one"


def test_diagram_lifecycle(sign_in, generation):
    alice = sign_in("alice")
    tm = alice.threat_models.create(name="TM with a diagram")
    diagram = alice.diagrams.create(tm.id, "Flows")
    assert [d.id for d in alice.diagrams.list(tm.id).items] == [diagram.id]
    cell_id = str(uuid.uuid4())
    if generation == "0.217":  # a PUT with cells is refused there (PROTOCOL.md 12b.6): cells go in by JSON Patch
        with pytest.raises(errors.BadRequest, match="cells is unsupported"):
            alice.diagrams.update(tm.id, diagram.id, name="Flows", cells=[node(cell_id)])
        updated = alice.diagrams.patch(
            tm.id, diagram.id, [{"op": "replace", "path": "/cells", "value": [node(cell_id)]}]
        )
    else:
        updated = alice.diagrams.update(tm.id, diagram.id, name="Flows", cells=[node(cell_id)])
    assert [c.id for c in updated.cells] == [cell_id]
    moved = node(cell_id, x=300)
    alice.diagrams.patch(tm.id, diagram.id, [{"op": "replace", "path": "/cells", "value": [moved]}])
    assert alice.diagrams.get(tm.id, diagram.id).cells[0].id == cell_id
    alice.metadata.create(tm.id, "layer", "edge", kind="diagrams", item_id=diagram.id)
    _second_create(alice, generation, tm.id, "layer", "core", kind="diagrams", item_id=diagram.id)
    values = [m.value for m in alice.metadata.list(tm.id, kind="diagrams", item_id=diagram.id)]
    assert values == (["edge"] if generation == "1.8" else ["core"])
    alice.diagrams.delete(tm.id, diagram.id)


def test_collaboration_sessions(sign_in, generation):
    alice, bob = sign_in("alice"), sign_in("bob")
    tm = alice.threat_models.create(name="Shared", authorization=[_acl_entry(alice, "bob", "writer")])
    diagram = alice.diagrams.create(tm.id, "Live")
    assert alice.collaboration.get(tm.id, diagram.id) is None  # 1.8: 404; 0.217: 200 with session_id null
    started = alice.collaboration.start_or_join(tm.id, diagram.id)
    assert started.created
    joined = bob.collaboration.start_or_join(tm.id, diagram.id)
    assert (joined.session_id, joined.created) == (started.session_id, False)
    assert alice.collaboration.get(tm.id, diagram.id).session_id == started.session_id
    assert [s.session_id for s in bob.collaboration.sessions()] == [started.session_id]
    url = bob.collaboration.websocket_url(joined)
    assert url.startswith("ws://") and ("ticket=" in url if generation == "1.8" else "token=" in url)
    if generation == "1.8":
        with pytest.raises(errors.NotFound):  # 404 rather than 403: sessions cannot be enumerated (6.3)
            bob.collaboration.ticket(MISSING_ID)
    live_edits = [
        lambda: alice.diagrams.update(tm.id, diagram.id, name="Live", cells=[]),
        lambda: alice.diagrams.patch(tm.id, diagram.id, [{"op": "add", "path": "/name", "value": "X"}]),
        lambda: alice.diagrams.delete(tm.id, diagram.id),
        lambda: alice.threat_models.delete(tm.id),
    ]
    for edit in live_edits:  # no REST edits while a session is live (5.4, 9.3)
        with pytest.raises(errors.Conflict):
            edit()
    bob.collaboration.leave(tm.id, diagram.id)  # a non-host leaving is a no-op (PROTOCOL.md 6.2)
    alice.collaboration.leave(tm.id, diagram.id)  # the host ends it
    assert alice.collaboration.get(tm.id, diagram.id) is None


def _acl_entry(owner: TMIClient, hint: str, role: str) -> dict:
    return {"principal_type": "user", "provider": owner.auth.test_provider().id, "provider_id": hint, "role": role}


def test_error_responses(connect, sign_in, contract, generation):
    alice, bob = sign_in("alice"), sign_in("bob")
    tm = alice.threat_models.create(name="Private")

    no_token = ViolationPattern("request", "SecurityValidationError", "GET /threat_models", "security")
    with contract.expect_violation(no_token), pytest.raises(errors.Unauthorized):
        connect().threat_models.list()  # a deliberately unauthenticated request
    with pytest.raises((errors.Forbidden, errors.NotFound)):
        bob.threat_models.get(tm.id)  # 403 at both generations (PROTOCOL.md 4, 9.3)
    with pytest.raises(errors.NotFound):
        alice.threat_models.get(MISSING_ID)
    unknown_field = ViolationPattern("request", "additionalProperties", "POST /threat_models", "body")
    with contract.expect_violation(unknown_field), pytest.raises(errors.BadRequest):
        alice.threat_models.create(name="Bad", version=3)  # the guide's createThreatModel (PROTOCOL.md 10.5)


def test_a_wrong_bearer_token_is_a_checked_401(sandbox, contract, validating_transport):
    with httpx.Client(base_url=sandbox.base_url, transport=validating_transport) as raw:
        response = raw.get("/threat_models", headers={"Authorization": "Bearer not-a-jwt"})
    assert response.status_code == 401
    assert contract.covered["GET /threat_models -> 401"] == 1


async def test_the_async_client_is_checked_too(sandbox, sign_in, async_validating_transport, contract):
    tokens = sign_in("alice").tokens
    async with AsyncTMIClient(
        sandbox.base_url, auth=tokens, transport=async_validating_transport, max_retries=0
    ) as alice:
        created = await alice.threat_models.create(name="Async")
        assert created.id in [tm.id for tm in (await alice.threat_models.list(limit=100)).items]
        assert (await alice.threat_models.get(created.id)).name == "Async"
    assert contract.covered["GET /threat_models/{threat_model_id} -> 200"] == 1


def test_oauth_error_responses(connect, sign_in):
    anonymous = connect()
    provider = anonymous.auth.test_provider()
    verifier, _ = pkce_pair()
    with pytest.raises(errors.BadRequest):  # no such code: invalid_grant (PROTOCOL.md 3.5)
        anonymous.auth.exchange_code("test_auth_code_1", verifier, redirect_uri=CLIENT_CALLBACK, idp=provider.id)
    alice = sign_in("alice")
    used = alice.tokens.refresh_token
    alice.auth.refresh(used)
    with pytest.raises(errors.RefreshFailed):  # single use (3.6, 9.2)
        alice.auth.refresh(used)


@pytest.mark.parametrize("status", [500, 503])
def test_injected_server_failures_are_checked_error_bodies(sandbox, sign_in, contract, validating_transport, status):
    """Fault hooks (the sandbox's /_sandbox routes are not checked) give 5xx answers; their bodies must still be
    TMI's Error (undeclared 5xx only need that, tests/contract/openapi.py)."""
    alice = sign_in("alice")
    with httpx.Client(base_url=sandbox.base_url, transport=validating_transport) as control:
        control.post(
            "/_sandbox/faults", json={"path_prefix": "/threat_models", "status": status, "retry_after": 1, "times": 1}
        ).raise_for_status()
    with pytest.raises((errors.InternalServerError, errors.ServiceUnavailable)):
        alice.threat_models.list()
    assert contract.covered[f"GET /threat_models -> {status}"] == 1


def test_client_credentials_and_service_account_tokens(connect, sign_in, contract, generation):
    """1.8 service accounts (PROTOCOL.md 3.5): create, list, the grant (good and refused secret), a call made
    with the service account's token, delete. 0.217 has none, and the client refuses without a request."""
    alice = sign_in("alice")
    if generation != "1.8":
        with pytest.raises(errors.NotSupported):
            alice.auth.client_credentials_create("contract")
        assert not any("client_credentials" in what for what in contract.covered)
        return
    created = alice.auth.client_credentials_create("contract", description="checked against the spec")
    assert [c.id for c in alice.auth.client_credentials_list(limit=5).items] == [created.id]
    pair = connect().auth.client_credentials(created.client_id, created.client_secret)
    assert pair.refresh_token == ""
    assert connect(auth=pair.access_token).threat_models.list(limit=5).items
    with pytest.raises(errors.ClientCredentialsRefused):
        connect().auth.client_credentials(created.client_id, "wrong")
    alice.auth.client_credentials_delete(created.id)
    with pytest.raises(errors.NotFound):
        alice.auth.client_credentials_delete(created.id)
    for exchange in (
        "POST /me/client_credentials -> 201",
        "GET /me/client_credentials -> 200",
        "POST /oauth2/token -> 200",
        "POST /oauth2/token -> 401",
        "DELETE /me/client_credentials/{credential_id} -> 204",
        "DELETE /me/client_credentials/{credential_id} -> 404",
    ):
        assert contract.covered[exchange] >= 1, (exchange, dict(contract.covered))
