"""`.../metadata` on threat models and children (PROTOCOL.md 5.6), both generations."""

from __future__ import annotations

import pytest

from tests.sandbox import helpers
from tests.sandbox.rest_world import Api, error, first_child, items, tm_id

BASE = f"/threat_models/{tm_id()}"


def _owner_path(sandbox, collection: str | None) -> str:
    return BASE if collection is None else f"{BASE}/{collection}/{first_child(sandbox, collection)['id']}"


@pytest.mark.parametrize("collection", [None, "threats", "diagrams", "documents", "assets", "notes", "repositories"])
def test_metadata_lifecycle(sandbox, collection):
    bob = Api(sandbox, "bob")
    path = _owner_path(sandbox, collection) + "/metadata"
    before = bob.get(path)
    assert before.status_code == 200 and isinstance(before.json(), list)  # a plain array in both generations
    created = bob.post(path, {"key": "owner-team", "value": "payments"})
    assert created.status_code == 201 and created.json() == {"key": "owner-team", "value": "payments"}
    assert bob.get(f"{path}/owner-team").json() == {"key": "owner-team", "value": "payments"}
    if bob.legacy:
        _metadata_0217(bob, path)
    else:
        _metadata_18(bob, path)
    assert bob.delete(f"{path}/owner-team").status_code == 204
    assert error(bob.get(f"{path}/owner-team"), 404, "not_found") == "Metadata entry not found"
    assert bob.get(path).json() == before.json()
    error(bob.post(path, {"key": "k"}), 400, "invalid_input")
    error(bob.post(path, {"key": "k", "value": "v", "extra": 1}), 400, "invalid_input")


def _metadata_18(bob: Api, path: str) -> None:
    """The real 1.8.22: a second POST is 409; PUT changes an existing key, and a new key is 404."""
    assert (
        error(bob.post(path, {"key": "owner-team", "value": "x"}), 409, "conflict")
        == "Metadata key already exists: owner-team"
    )
    assert bob.put(f"{path}/owner-team", {"value": "cards"}).json() == {"key": "owner-team", "value": "cards"}
    # the 1.8 spec declares the assets variant as a whole Metadata object: that form works everywhere too
    assert bob.put(f"{path}/owner-team", {"key": "owner-team", "value": "v2"}).status_code == 200
    error(bob.put(f"{path}/owner-team", {"key": "other", "value": "v2"}), 400, "invalid_input")
    error(bob.put(f"{path}/owner-team", {"value": ""}), 400, "invalid_input")
    error(bob.put(f"{path}/owner-team", {"value": "x", "extra": 1}), 400, "invalid_input")
    assert error(bob.put(f"{path}/brand-new", {"value": "x"}), 404, "not_found") == "Metadata not found"
    assert error(bob.delete(f"{path}/brand-new"), 404, "not_found") == "Metadata not found"
    assert "brand-new" not in {m["key"] for m in bob.get(path).json()}
    bob.put(f"{path}/owner-team", {"value": "cards"})
    assert {"key": "owner-team", "value": "cards"} in bob.get(path).json()


def _metadata_0217(bob: Api, path: str) -> None:
    """The real 0.217.8: a POST of an existing key replaces its value; every PUT is 400; deleting a key
    that is not there is a 500."""
    again = bob.post(path, {"key": "owner-team", "value": "cards"})
    assert again.status_code == 201 and again.json() == {"key": "owner-team", "value": "cards"}
    assert [m for m in bob.get(path).json() if m["key"] == "owner-team"] == [{"key": "owner-team", "value": "cards"}]
    assert "'Metadata.Key'" in error(bob.put(f"{path}/owner-team", {"value": "v2"}), 400, "invalid_input")
    assert 'property "key" is unsupported' in error(
        bob.put(f"{path}/owner-team", {"key": "owner-team", "value": "v2"}), 400, "invalid_input"
    )
    assert error(bob.delete(f"{path}/brand-new"), 500, "server_error") == "Failed to delete metadata"
    assert bob.get(f"{path}/owner-team").json()["value"] == "cards"


def test_bulk_metadata(sandbox):
    bob = Api(sandbox, "bob")
    path = f"{BASE}/metadata"
    existing = bob.get(path).json()
    added = bob.post(f"{path}/bulk", [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}])
    expected = [*existing, {"key": "a", "value": "1"}, {"key": "b", "value": "2"}]
    expected.sort(key=lambda m: m["key"])  # whole lists come back ordered by key (the real 1.8.22 and 0.217.8)
    assert added.status_code == 201 and added.json() == expected
    error(bob.post(f"{path}/bulk", [{"key": "a", "value": "again"}]), 409, "conflict")
    replaced = bob.put(f"{path}/bulk", [{"key": "only", "value": "one"}])
    assert replaced.status_code == 200 and bob.get(path).json() == [{"key": "only", "value": "one"}]
    upsert = bob.http.patch(f"{path}/bulk", json=[{"key": "only", "value": "two"}, {"key": "new", "value": "3"}])
    if bob.legacy:  # 0.217 has no bulk PATCH: its wrong-method answer
        assert upsert.status_code == 400 and upsert.json()["error_description"] == "method not allowed"
    else:
        assert upsert.json() == [{"key": "new", "value": "3"}, {"key": "only", "value": "two"}]  # by key


def test_metadata_roles(sandbox):
    carol, dave = Api(sandbox, "carol"), Api(sandbox, "dave")
    path = f"{BASE}/metadata"
    assert carol.get(path).status_code == 200
    error(carol.post(path, {"key": "k", "value": "v"}), 403, "forbidden")
    error(carol.delete(f"{path}/business_unit"), 403, "forbidden")
    error(dave.get(path), 403, "forbidden")
    foreign = first_child(sandbox, "threats", "Mobile Banking App")
    error(Api(sandbox, "alice").get(f"{BASE}/threats/{foreign['id']}/metadata"), 404, "not_found")


@pytest.mark.parametrize("collection", ["threats", "diagrams", "documents", "assets", "notes", "repositories"])
def test_metadata_writes_leave_the_model_modified_at_alone(sandbox_factory, collection):
    """A child's metadata is a write of the child, and child writes leave the threat model's modified_at alone
    (PROTOCOL.md 12.9): a sync cannot see them on the model either. So does the model's own metadata: the real
    1.8.22 and 0.217.8 both kept modified_at after POST /threat_models/{id}/metadata (2026-12-04)."""
    server = sandbox_factory("1.8")
    bob = Api(server, "bob")
    path = _owner_path(server, collection) + "/metadata"

    def parent_changed() -> tuple[str, str]:
        listed = items(bob.get("/threat_models", params={"limit": 100}), "threat_models", False)
        return bob.get(BASE).json()["modified_at"], next(m["modified_at"] for m in listed if m["id"] == tm_id())

    before = parent_changed()
    helpers.advance_clock(server.base_url, 5)
    writes = [
        bob.post(path, {"key": "owner-team", "value": "payments"}),
        bob.put(f"{path}/owner-team", {"value": "cards"}),
        bob.delete(f"{path}/owner-team"),
        bob.post(f"{path}/bulk", [{"key": "a", "value": "1"}]),
        bob.put(f"{path}/bulk", [{"key": "b", "value": "2"}]),
        bob.http.patch(f"{path}/bulk", json=[{"key": "c", "value": "3"}]),
    ]
    assert [w.status_code for w in writes] == [201, 200, 204, 201, 200, 200], [w.text[:200] for w in writes]
    assert parent_changed() == before
    assert bob.post(f"{BASE}/metadata", {"key": "owner-team", "value": "payments"}).status_code == 201
    assert parent_changed() == before
