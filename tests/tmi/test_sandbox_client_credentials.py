"""Service accounts through the client: create, list, delete credentials and use the grant
(PROTOCOL.md 3.5). TMI 1.8 has them; 0.217 has none and the client says so without calling."""

from __future__ import annotations

import jwt
import pytest

from portal.sandbox.seed import sid
from portal.tmi import (
    AsyncTMIClient,
    ClientCredentialsRefused,
    NotSupported,
    TMIClient,
    TokenAuth,
    TokenPair,
    Unauthorized,
)

PAYMENTS = sid("tm", "Customer Payments API")


@pytest.fixture
def sandbox(sandbox_factory, generation):
    """The seeded sandbox with alice among TMI's administrators: only administrators and security reviewers
    may create client credentials (the real 1.8.22 answers anyone else 403)."""
    return sandbox_factory(generation, administrators=["alice"])


@pytest.mark.parametrize("generation", ["1.8"])  # 0.217: test_0217_says_it_has_no_client_credentials
def test_1_8_credentials_give_a_token_that_acts_as_their_owner(alice, anonymous, sandbox, generation):
    created = alice.auth.client_credentials_create("Portal schedules", description="nightly PDF exports")
    assert created.client_id.startswith("tmi_cc_") and created.client_secret
    listed = alice.auth.client_credentials_list()
    assert [c.id for c in listed.items] == [created.id] and listed.total == 1
    assert "client_secret" not in listed.items[0].model_dump()

    pair = anonymous.auth.client_credentials(created.client_id, created.client_secret)
    assert pair.refresh_token == "" and pair.expires_in > 0
    assert jwt.decode(pair.access_token, options={"verify_signature": False})["sub"].startswith(f"sa:{created.id}:")
    with TMIClient(sandbox.base_url, auth=pair, timeout=10) as service:
        assert service.threat_models.get(PAYMENTS).id == PAYMENTS  # alice owns it, so her account may read it

    with pytest.raises(ClientCredentialsRefused) as refused:
        anonymous.auth.client_credentials(created.client_id, "not-the-secret")
    assert refused.value.status_code == 401 and refused.value.error == "invalid_client"
    assert isinstance(refused.value, Unauthorized)

    alice.auth.client_credentials_delete(created.id)
    assert alice.auth.client_credentials_list().items == []
    with pytest.raises(ClientCredentialsRefused):
        anonymous.auth.client_credentials(created.client_id, created.client_secret)


@pytest.mark.parametrize("generation", ["1.8"])
def test_1_8_a_token_auth_renews_by_asking_again(alice, anonymous, sandbox, generation, control):
    created = alice.auth.client_credentials_create("renewing")
    asked = []

    def renew(stale: TokenPair) -> TokenPair:
        asked.append(stale.access_token)
        return anonymous.auth.client_credentials(created.client_id, created.client_secret)

    first = anonymous.auth.client_credentials(created.client_id, created.client_secret)
    auth = TokenAuth(first, refresh=renew, renews_without_refresh_token=True)
    with TMIClient(sandbox.base_url, auth=auth, timeout=10) as service:
        service.threat_models.get(PAYMENTS)
        assert asked == []
        control.post("/_sandbox/clock", json={"advance_seconds": first.expires_in + 5}).raise_for_status()
        assert service.threat_models.get(PAYMENTS).id == PAYMENTS  # 401, then a fresh grant, then the replay
    assert len(asked) == 1 and auth.tokens.access_token != first.access_token
    # Without the flag an empty refresh token still means "cannot renew".
    assert not TokenAuth(first, refresh=renew)._can_refresh()


async def test_async_client_has_the_same_methods(async_alice, sandbox, generation):
    if generation != "1.8":
        with pytest.raises(NotSupported):
            await async_alice.auth.client_credentials_list()
        return
    created = await async_alice.auth.client_credentials_create("async")
    async with AsyncTMIClient(sandbox.base_url, timeout=10) as anonymous:
        pair = await anonymous.auth.client_credentials(created.client_id, created.client_secret)
    assert pair.access_token and pair.refresh_token == ""


@pytest.mark.parametrize("generation", ["0.217"])
def test_0217_says_it_has_no_client_credentials(alice, anonymous, generation):
    for attempt in (
        lambda: anonymous.auth.client_credentials("tmi_cc_x", "secret"),
        lambda: alice.auth.client_credentials_create("x"),
        lambda: alice.auth.client_credentials_list(),
        lambda: alice.auth.client_credentials_delete("00000000-0000-4000-8000-000000000000"),
    ):
        with pytest.raises(NotSupported) as refused:
            attempt()
        assert "does not support client credentials" in str(refused.value)
