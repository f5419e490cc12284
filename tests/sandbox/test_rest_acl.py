"""Authorization entries as the real servers take them (acl.py)."""

from __future__ import annotations

from tests.sandbox.rest_world import Api, error, items

EVERYONE = {"principal_type": "group", "provider_id": "everyone", "role": "reader"}


def test_everyone_is_shared_with_provider_tmi_at_18_and_the_wildcard_is_refused(sandbox_factory):
    """The real 1.8.22: the `everyone` group with provider "*" is 400 validation_failed naming the entry's
    index; with provider "tmi" a stranger can read the model and sees it in their list."""
    server = sandbox_factory("1.8")
    alice, dave = Api(server, "alice"), Api(server, "dave")
    tm = alice.post("/threat_models", {"name": "Shared with everyone"}).json()
    path = f"/threat_models/{tm['id']}"
    index = len(alice.get(path).json()["authorization"])
    wildcard = [{"op": "add", "path": "/authorization/-", "value": {**EVERYONE, "provider": "*"}}]
    assert error(alice.patch(path, wildcard), 400, "validation_failed") == (
        f"Authorization entry at index {index}: 'provider' must be a valid identity provider name "
        '(e.g., "tmi", "google", "github")'
    )
    assert dave.get(path).status_code == 403
    shared = alice.patch(path, [{"op": "add", "path": "/authorization/-", "value": {**EVERYONE, "provider": "tmi"}}])
    assert shared.status_code == 200, shared.text
    assert dave.get(path).status_code == 200
    assert tm["id"] in {t["id"] for t in items(dave.get("/threat_models"), "threat_models", False)}
