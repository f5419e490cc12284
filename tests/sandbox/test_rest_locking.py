"""1.8 optimistic locking (PROTOCOL.md 5.1); 0.217 has none (9.3)."""

from __future__ import annotations

import pytest

from portal.sandbox.rest.locking import DEPRECATION_WARNING, STALE
from tests.sandbox.rest_world import Api, child_body, error, first_child, tm_id

BASE = f"/threat_models/{tm_id()}"
LOCKED = ("threats", "diagrams", "documents", "assets")


def _put_body(sandbox, collection: str, obj: dict) -> dict:
    body = child_body(collection, sandbox.state.config.is_legacy)
    if collection == "diagrams":
        body["cells"] = obj["cells"]
    return body


@pytest.mark.parametrize("collection", LOCKED)
def test_if_match_on_children(sandbox, collection):
    bob = Api(sandbox, "bob")
    obj = first_child(sandbox, collection)
    path = f"{BASE}/{collection}/{obj['id']}"
    body = _put_body(sandbox, collection, obj)
    if bob.legacy:  # no locking; a diagram is written by JSON Patch there (PUT with cells: PROTOCOL.md 12b.6)
        rename = [{"op": "replace", "path": "/name", "value": "Renamed"}]

        def write(**kw):
            return bob.patch(path, rename, **kw) if collection == "diagrams" else bob.put(path, body, **kw)

        plain = write()
        assert plain.status_code == 200
        assert not {"etag", "deprecation", "warning"} & set(plain.headers)
        assert write(headers={"If-Match": '"999"'}).status_code == 200  # ignored
        return
    plain = bob.put(path, body)
    assert plain.status_code == 200
    assert plain.headers["deprecation"] == "true" and plain.headers["warning"] == DEPRECATION_WARNING
    assert "etag" not in plain.headers
    star = bob.put(path, body, headers={"If-Match": "*"})
    assert star.headers["etag"] == '"2"' and "deprecation" not in star.headers
    for header in ("2", '"3"', 'W/"4"'):
        assert bob.put(path, body, headers={"If-Match": header}).status_code == 200
    stale = bob.patch(path, [{"op": "replace", "path": "/name", "value": "late"}], headers={"If-Match": "2"})
    assert error(stale, 409, "version_mismatch") == STALE
    fresh = bob.patch(path, [{"op": "replace", "path": "/name", "value": "now"}], headers={"If-Match": "5"})
    assert fresh.status_code == 200 and fresh.headers["etag"] == '"6"'
    assert "If-Match" in error(bob.put(path, body, headers={"If-Match": "abc"}), 400, "invalid_input")
    got = bob.get(path)
    assert "etag" not in got.headers and "version" not in got.json()


@pytest.mark.parametrize("collection", LOCKED)
def test_unconditional_writes_leave_the_version_alone(sandbox_factory, collection):
    """The real 1.8.22: a PUT or PATCH without If-Match changes the object, not its version, so a client
    that read version 1 before someone else's unconditional writes still writes with If-Match: 1."""
    sandbox = sandbox_factory("1.8")  # 0.217 has no locking (test_if_match_on_children pins that)
    bob = Api(sandbox, "bob")
    obj = first_child(sandbox, collection)
    path = f"{BASE}/{collection}/{obj['id']}"
    assert bob.put(path, _put_body(sandbox, collection, obj)).status_code == 200
    assert bob.patch(path, [{"op": "replace", "path": "/name", "value": "Unlocked"}]).status_code == 200
    locked = bob.patch(path, [{"op": "replace", "path": "/name", "value": "Locked"}], headers={"If-Match": '"1"'})
    assert locked.status_code == 200, locked.text
    assert locked.headers["etag"] == '"2"'


def test_if_match_on_threat_models_and_body_version(sandbox):
    alice = Api(sandbox, "alice")
    path = BASE
    acl = alice.get(path).json()["authorization"]
    body = {"name": "Locked", "threat_model_framework": "STRIDE", "authorization": acl}
    if alice.legacy:
        response = alice.put(path, {**body, "version": 1})
        error(response, 400, "invalid_input")  # 0.217 knows no version field
        return
    assert alice.put(path, body, headers={"If-Match": "1"}).headers["etag"] == '"2"'
    assert alice.put(path, body).status_code == 200  # unconditional: the version stays 2
    assert alice.put(path, body, headers={"If-Match": "2"}).headers["etag"] == '"3"'
    # 1.8.22's schema has no body `version` (PROTOCOL.md 5.1 said it was a lock): 400, nothing written
    error(alice.put(path, {**body, "name": "Versioned", "version": 3}), 400, "invalid_input")
    assert alice.get(path).json()["name"] == "Locked"


@pytest.mark.parametrize("collection", ["notes", "repositories"])
def test_notes_and_repositories_are_not_locked(sandbox, collection):
    bob = Api(sandbox, "bob")
    obj = first_child(sandbox, collection)
    response = bob.put(
        f"{BASE}/{collection}/{obj['id']}", child_body(collection, bob.legacy), headers={"If-Match": "42"}
    )
    assert response.status_code == 200
    assert not {"etag", "deprecation"} & set(response.headers)
