"""`/threat_models` and `/threat_models/{id}` against a running seeded sandbox, both generations."""

from __future__ import annotations

import httpx
import pytest

from portal.sandbox import seed
from tests.sandbox import helpers
from tests.sandbox.rest_world import PAYMENTS, ROLE_ON_PAYMENTS, Api, error, items, tm_id

TM_LIST_18 = {
    "id",
    "name",
    "description",
    "created_at",
    "modified_at",
    "owner",
    "created_by",
    "threat_model_framework",
    "status",
    "status_updated",
    "issue_uri",
    "alias",
    "security_reviewer",  # PROTOCOL.md 5.2's TMListItem; the 1.8 seed gives most models one
    "document_count",
    "repo_count",
    "diagram_count",
    "threat_count",
    "asset_count",
    "note_count",
}


def test_every_route_needs_a_bearer_token(sandbox):
    for method, path in [
        ("GET", "/threat_models"),
        ("POST", "/threat_models"),
        ("GET", f"/threat_models/{tm_id()}"),
        ("GET", f"/threat_models/{tm_id()}/threats"),
        ("GET", f"/threat_models/{tm_id()}/metadata"),
    ]:
        response = httpx.request(method, sandbox.base_url + path, json={"name": "x"} if method == "POST" else None)
        assert error(response, 401, "unauthorized") == "Authentication required"
        assert "www-authenticate" not in response.headers
    bad = httpx.get(sandbox.base_url + "/threat_models", headers={"Authorization": "Bearer not-a-jwt"})
    assert error(bad, 401, "unauthorized") == "Authentication required"


def test_a_malformed_path_uuid_is_400_even_without_a_token(sandbox):
    response = httpx.get(sandbox.base_url + "/threat_models/not-a-uuid/threats")
    assert error(response, 400, "invalid_id") == "Invalid UUID format for parameter: threat_model_id"
    response = Api(sandbox, "alice").get(f"/threat_models/{tm_id()}/diagrams/123")
    assert error(response, 400, "invalid_id") == "Invalid UUID format for parameter: diagram_id"


def test_list_shape_per_generation(sandbox):
    alice = Api(sandbox, "alice")
    response = alice.get("/threat_models")
    models = items(response, "threat_models", alice.legacy)
    if alice.legacy:
        payments = next(m for m in models if m["name"] == PAYMENTS)
        assert payments["owner"] == "Alice (Test User)" and payments["created_by"] == "Alice (Test User)"
        assert "alias" not in payments and "security_reviewer" not in payments
        assert all(m["threat_model_framework"] == "STRIDE" for m in models)
    else:
        body = response.json()
        assert (body["limit"], body["offset"], body["total"]) == (20, 0, len(models))
        payments = next(m for m in models if m["name"] == PAYMENTS)
        assert set(payments) <= TM_LIST_18 and {"owner", "alias", "threat_count"} <= set(payments)
        assert payments["owner"] == {
            "principal_type": "user",
            "provider": "tmi",
            "provider_id": "alice",
            "display_name": "Alice (TMI User)",
            "email": "alice@tmi.local",
        }
    tm = sandbox.state.threat_models[tm_id()]
    assert payments["threat_count"] == len(tm["threats"]) and payments["diagram_count"] == len(tm["diagrams"])
    created = [m["created_at"] for m in models]
    assert created == sorted(created, reverse=True)


@pytest.mark.parametrize("hint", ["alice", "bob", "carol", "dave"])
def test_list_shows_only_models_the_caller_can_read(sandbox, hint):
    api = Api(sandbox, hint)
    names = {m["name"] for m in items(api.get("/threat_models", params={"limit": 100}), "threat_models", api.legacy)}
    expected = {
        name
        for name, _, _, owner, grants, _ in seed.MODELS
        if owner == hint or hint in grants or name in seed.EVERYONE_READS
    }
    assert names == expected


def test_pagination_and_its_bounds(sandbox):
    alice = Api(sandbox, "alice")
    everything = items(alice.get("/threat_models", params={"limit": 100}), "threat_models", alice.legacy)
    window = items(alice.get("/threat_models", params={"limit": 3, "offset": 2}), "threat_models", alice.legacy)
    assert [m["id"] for m in window] == [m["id"] for m in everything[2:5]]
    if not alice.legacy:
        body = alice.get("/threat_models", params={"limit": 3, "offset": 2}).json()
        assert (body["total"], body["limit"], body["offset"]) == (len(everything), 3, 2)
    for params in ({"limit": 0}, {"limit": 101}, {"offset": -1}, {"limit": "ten"}):
        error(alice.get("/threat_models", params=params), 400, "invalid_input")


def test_list_filters_apply_at_18_and_are_ignored_at_0217(sandbox):
    alice = Api(sandbox, "alice")
    readable = items(alice.get("/threat_models", params={"limit": 100}), "threat_models", alice.legacy)
    by_name = items(alice.get("/threat_models", params={"name": "PAYMENTS"}), "threat_models", alice.legacy)
    by_status = items(
        alice.get("/threat_models", params={"status": "in_progress,Approved", "limit": 100}),
        "threat_models",
        alice.legacy,
    )
    by_owner = items(
        alice.get("/threat_models", params={"owner": "dave@", "limit": 100}), "threat_models", alice.legacy
    )
    if alice.legacy:
        assert len(by_name) == len(by_status) == len(by_owner) == len(readable)
        return
    assert [m["name"] for m in by_name] == [PAYMENTS]
    assert by_status and {m["status"] for m in by_status} <= {"in_progress", "approved"}
    assert by_owner and all(m["owner"]["provider_id"] == "dave" for m in by_owner)
    later = items(alice.get("/threat_models", params={"created_after": seed.at(20)}), "threat_models", False)
    assert later and all(m["created_at"] > seed.at(20) for m in later)


def test_include_deleted_is_for_administrators(sandbox):
    alice = Api(sandbox, "alice")
    response = alice.get("/threat_models", params={"include_deleted": "true"})
    if alice.legacy:  # 0.217 has no soft delete and ignores the parameter
        assert response.status_code == 200
        return
    assert error(response, 403, "forbidden") == "You don't have sufficient permissions to perform this action"
    assert alice.delete(f"/threat_models/{tm_id()}").status_code == 204
    alice.user.is_admin = True
    shown = items(alice.get("/threat_models", params={"include_deleted": "true"}), "threat_models", False)
    assert next(m for m in shown if m["id"] == tm_id())["deleted_at"]


def test_create_adds_the_server_entries(sandbox):
    bob = Api(sandbox, "bob")
    response = bob.post(
        "/threat_models",
        {
            "name": "Checkout",
            "description": "New checkout",
            "threat_model_framework": "LINDDUN",
            "issue_uri": "https://issues.example.com/1",
            "authorization": [
                {"principal_type": "user", "provider": bob.user.provider, "provider_id": "carol", "role": "reader"}
            ],
        },
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == f"/threat_models/{created['id']}"
    # Both create answers embed threats only (the real 1.8.22 and 0.217.8: no `diagrams` key).
    assert created["threats"] == [] and "diagrams" not in created
    subjects = [(e["principal_type"], e["provider_id"], e["role"]) for e in created["authorization"]]
    fetched = bob.get(f"/threat_models/{created['id']}").json()
    read_back = [(e["principal_type"], e["provider_id"], e["role"]) for e in fetched["authorization"]]
    if bob.legacy:
        assert subjects == [("user", "bob@test.tmi", "owner"), ("user", "carol", "reader")]
        assert created["owner"]["provider_id"] == "bob@test.tmi"
        assert created["threat_model_framework"] == "" and "issue_uri" not in created  # dropped by 0.217's create
        # 0.217.8 reads every ACL back as [] (carol still reads, below), and the owner with the login sub
        assert read_back == []
        assert fetched["owner"]["provider_id"] == fetched["created_by"]["provider_id"] == "bob"
    else:
        assert subjects == [
            ("user", "bob", "owner"),
            ("user", "carol", "reader"),
            ("group", "security-reviewers", "owner"),
            ("group", "tmi-automation", "writer"),
        ]
        assert created["threat_model_framework"] == "LINDDUN" and created["status"] == "not_started"
        assert all(set(e) == {"principal_type", "provider", "provider_id", "role"} for e in created["authorization"])
        # 1.8.22 reads the ACL back ordered by role descending, users and groups with their names
        assert read_back == [
            ("group", "tmi-automation", "writer"),
            ("user", "carol", "reader"),
            ("user", "bob", "owner"),
            ("group", "security-reviewers", "owner"),
        ]
        names = [(e.get("email"), e.get("display_name")) for e in fetched["authorization"]]
        assert names == [
            (None, "TMI Automation"),
            ("carol@tmi.local", "Carol (TMI User)"),
            ("bob@tmi.local", "Bob (TMI User)"),
            (None, "Security Reviewers"),
        ]
    carol = Api(sandbox, "carol")
    assert carol.get(f"/threat_models/{created['id']}").status_code == 200


def test_create_echoes_an_empty_framework_and_get_says_stride(sandbox):
    alice = Api(sandbox, "alice")
    created = alice.post(
        "/threat_models", {"name": "Bare", "is_confidential": True} if not alice.legacy else {"name": "Bare"}
    )
    assert created.status_code == 201, created.text
    assert created.json()["threat_model_framework"] == ""
    fetched = alice.get(f"/threat_models/{created.json()['id']}").json()
    if not alice.legacy:
        assert fetched["threat_model_framework"] == "STRIDE"
        assert ("group", "confidential-project-reviewers", "owner") in [
            (e["principal_type"], e["provider_id"], e["role"]) for e in fetched["authorization"]
        ]


def test_create_validation(sandbox):
    alice = Api(sandbox, "alice")
    error(alice.post("/threat_models", {"name": "x", "bogus": 1}), 400, "invalid_input")
    error(alice.post("/threat_models", {"description": "no name"}), 400, "invalid_input")
    if not alice.legacy:  # 0.217's ThreatModelInput sets no minLength on name
        error(alice.post("/threat_models", {"name": ""}), 400, "invalid_input")
    text = error(alice.post("/threat_models", {"name": "x", "id": tm_id()}), 400, "invalid_input")
    assert text.startswith("Field 'id' is not allowed in POST requests")
    error(alice.post("/threat_models", {"name": "x", "version": 3}), 400, "invalid_input")


def test_create_checks_authorization_subjects_at_18(sandbox):
    alice = Api(sandbox, "alice")
    ghost = {"principal_type": "user", "provider": alice.user.provider, "provider_id": "nobody-here", "role": "reader"}
    if alice.legacy:  # 0.217 stores authorization entries as sent
        created = alice.post("/threat_models", {"name": "x", "authorization": [ghost]})
        assert created.status_code == 201 and ghost in created.json()["authorization"]
        return
    text = error(alice.post("/threat_models", {"name": "x", "authorization": [ghost]}), 400, "invalid_input")
    assert text.startswith("The request references an entity that does not exist")
    bob = {"principal_type": "user", "provider": "tmi", "provider_id": "bob", "role": "reader"}
    text = error(
        alice.post("/threat_models", {"name": "x", "authorization": [bob, {**bob, "role": "writer"}]}),
        400,
        "invalid_input",
    )
    assert text == "Duplicate authorization subject: bob"


def test_get_returns_the_full_model(sandbox):
    carol = Api(sandbox, "carol")
    response = carol.get(f"/threat_models/{tm_id()}")
    assert response.status_code == 200
    assert "etag" not in response.headers
    body = response.json()
    assert "version" not in body
    stored = sandbox.state.threat_models[tm_id()]
    # Both real servers embed only threats and diagrams (PROTOCOL.md 12.10; the real 0.217.8 too, 2026-12-04).
    embedded = ("threats", "diagrams")
    assert {"documents", "assets", "notes", "repositories"}.isdisjoint(body)
    assert all(stored[key] for key in ("documents", "assets", "notes", "repositories"))  # they exist
    for key in embedded:
        assert [c["id"] for c in body[key]] == [c["id"] for c in stored[key]]
    assert body["diagrams"][0]["cells"]
    users = [e for e in body["authorization"] if e["principal_type"] == "user"]
    assert all(e.get("email") and e.get("display_name") for e in users)


def test_unknown_threat_model_is_404(sandbox):
    response = Api(sandbox, "alice").get(f"/threat_models/{seed.sid('nothing')}")
    assert error(response, 404, "not_found") == "Threat model not found"


@pytest.mark.parametrize("hint", ["alice", "bob", "carol", "dave"])
def test_role_decides_each_operation(sandbox, hint):
    api = Api(sandbox, hint)
    role = ROLE_ON_PAYMENTS[hint]
    denied = "You don't have sufficient permissions to perform this action"  # both real servers' text
    path = f"/threat_models/{tm_id()}"
    got = api.get(path)
    if role is None:
        assert error(got, 403, "forbidden") == denied
        assert error(api.put(path, {"name": "x"}), 403, "forbidden") == denied
        assert error(api.delete(path), 403, "forbidden") == denied
        return
    assert got.status_code == 200
    current = sandbox.state.threat_models[tm_id()]
    body = {"name": "Renamed", "threat_model_framework": "STRIDE", "authorization": got.json()["authorization"]}
    put = api.put(path, body)
    if role == "reader":
        assert error(put, 403, "forbidden") == denied
    else:
        assert put.status_code == 200, put.text
        assert current["name"] == "Renamed"
    delete = api.delete(path)
    if role == "owner":
        assert delete.status_code == 204
    else:
        assert error(delete, 403, "forbidden") == denied


def test_put_is_full_replacement(sandbox):
    alice = Api(sandbox, "alice")
    path = f"/threat_models/{tm_id()}"
    original = alice.get(path).json()
    body = {"name": "Payments v2", "threat_model_framework": "STRIDE", "authorization": original["authorization"]}
    response = alice.put(path, body)
    assert response.status_code == 200, response.text
    updated = response.json()
    assert "description" not in updated and "issue_uri" not in updated
    if alice.legacy:
        assert updated["metadata"] == (original["metadata"] or None)  # kept when omitted; 0.217 says null for none
        return
    # The real 1.8.22's PUT answer: no alias, status or status_updated, metadata only when sent, children as GET
    assert set(updated) == {
        "authorization",
        "created_at",
        "created_by",
        "diagrams",
        "threats",
        "id",
        "is_confidential",
        "modified_at",
        "name",
        "owner",
        "threat_model_framework",
    }
    assert [t["id"] for t in updated["threats"]] == [t["id"] for t in original["threats"]]
    assert [d["id"] for d in updated["diagrams"]] == [d["id"] for d in original["diagrams"]]
    refetched = alice.get(path).json()
    assert refetched["metadata"] == original["metadata"] and refetched["alias"] == original["alias"]  # kept
    with_metadata = alice.put(path, {**body, "metadata": [{"key": "z", "value": "1"}, {"key": "a", "value": "2"}]})
    assert [m["key"] for m in with_metadata.json()["metadata"]] == ["z", "a"]  # echoed as sent
    assert [m["key"] for m in alice.get(path).json()["metadata"]] == ["a", "z"]  # read back by key
    assert "alias" not in with_metadata.json() and "status" not in with_metadata.json()
    assert [e.get("display_name") for e in updated["authorization"] if e["principal_type"] == "user"] == [None] * len(
        [e for e in updated["authorization"] if e["principal_type"] == "user"]
    )
    assert all(e.get("email") for e in updated["authorization"] if e["principal_type"] == "user")


def test_put_requirements_per_generation(sandbox):
    alice = Api(sandbox, "alice")
    path = f"/threat_models/{tm_id()}"
    response = alice.put(path, {"name": "Only a name"})
    if alice.legacy:  # 0.217 requires the framework and the authorization list
        error(response, 400, "invalid_input")
        return
    assert response.status_code == 200, response.text
    # omitted: the whole ACL is wiped, and the real 1.8.22 answers `"authorization": null` (its only null)
    assert response.json()["authorization"] is None
    assert alice.get(path).json()["authorization"] == []
    assert error(Api(sandbox, "bob").get(path), 403, "forbidden")
    assert alice.get(path).status_code == 200  # the owner field still grants access


def test_only_the_owner_changes_the_acl(sandbox):
    bob = Api(sandbox, "bob")
    path = f"/threat_models/{tm_id()}"
    acl = bob.get(path).json()["authorization"]
    widened = [
        *acl,
        {
            "principal_type": "user",
            "provider": bob.user.provider,
            "provider_id": "dave" if not bob.legacy else "dave@test.tmi",
            "role": "reader",
        },
    ]
    response = bob.put(path, {"name": "x", "threat_model_framework": "STRIDE", "authorization": widened})
    assert error(response, 403, "forbidden") == "Only the owner can change ownership or authorization"
    response = bob.put(path, {"name": "x", "threat_model_framework": "STRIDE", "authorization": acl, "owner": "bob"})
    error(response, 400, "invalid_input")  # owner is read-only in the body
    alice = Api(sandbox, "alice")
    response = alice.put(path, {"name": "x", "threat_model_framework": "STRIDE", "authorization": widened})
    assert response.status_code == 200, response.text
    assert Api(sandbox, "dave").get(path).status_code == 200


def test_patch_needs_json_patch_media_type(sandbox):
    alice = Api(sandbox, "alice")
    path = f"/threat_models/{tm_id()}"
    response = alice.http.patch(path, json=[{"op": "replace", "path": "/name", "value": "x"}])
    assert response.status_code == (400 if alice.legacy else 415)
    response = alice.patch(path, [{"op": "replace", "path": "/name", "value": "Patched"}])
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Patched" and "threats" in response.json()


def test_patch_rules(sandbox):
    bob = Api(sandbox, "bob")  # writer
    path = f"/threat_models/{tm_id()}"
    assert bob.patch(path, [{"op": "replace", "path": "/description", "value": "d"}]).status_code == 200
    assert (
        bob.patch(path, [{"op": "add", "path": "/metadata/-", "value": {"key": "k1", "value": "v"}}]).status_code == 200
    )
    text = error(bob.patch(path, [{"op": "replace", "path": "/id", "value": seed.sid("x")}]), 400, "invalid_input")
    assert text.startswith("Field 'id' is not allowed in PATCH requests")
    error(bob.patch(path, [{"op": "replace", "path": "/created_by", "value": "x"}]), 400, "invalid_input")
    status = bob.patch(path, [{"op": "replace", "path": "/status", "value": "approved"}])
    owner = bob.patch(path, [{"op": "replace", "path": "/owner", "value": "bob"}])
    if bob.legacy:  # no allow-list: only the blacklist, and the owner rule
        assert status.status_code == 200
    else:  # status is for security reviewers
        error(status, 403, "forbidden")
        bob.user.is_security_reviewer = True
        assert bob.patch(path, [{"op": "replace", "path": "/status", "value": "approved"}]).status_code == 200
        error(bob.patch(path, [{"op": "replace", "path": "/alias", "value": 5}]), 400, "invalid_input")
        error(bob.patch(path, [{"op": "replace", "path": "/is_confidential", "value": True}]), 400, "invalid_input")
    assert error(owner, 403, "forbidden") == "Only the owner can change ownership or authorization"
    error(bob.patch(path, [{"op": "replace", "path": "/name", "value": 42}]), 400, "invalid_input")
    error(bob.patch(path, [{"op": "explode", "path": "/name"}]), 400, "invalid_input")


def test_owner_patches_the_acl_with_an_email_only_entry_at_18(sandbox):
    alice = Api(sandbox, "alice")
    path = f"/threat_models/{tm_id()}"
    entry = {"principal_type": "user", "provider": alice.user.provider, "email": "dave@tmi.local", "role": "writer"}
    if alice.legacy:
        entry = {"principal_type": "user", "provider": "test", "provider_id": "dave@test.tmi", "role": "writer"}
    response = alice.patch(path, [{"op": "add", "path": "/authorization/-", "value": entry}])
    assert response.status_code == 200, response.text
    # dave may write now (a metadata POST: a PUT of a new key is 404 at 1.8 and every PUT 400 at 0.217)
    assert Api(sandbox, "dave").post(f"{path}/metadata", {"key": "dave-was-here", "value": "x"}).status_code == 201
    if not alice.legacy:
        ghost = {**entry, "email": "ghost@tmi.local"}
        text = error(
            alice.patch(path, [{"op": "add", "path": "/authorization/-", "value": ghost}]), 400, "invalid_input"
        )
        assert text.startswith("One or more users in the authorization list do not exist")


def test_delete_waits_for_collaboration_sessions(sandbox):
    alice = Api(sandbox, "alice")
    tm = sandbox.state.threat_models[tm_id()]
    diagram_id = tm["diagrams"][0]["id"]
    sandbox.state.sessions[diagram_id] = object()
    text = error(alice.delete(f"/threat_models/{tm_id()}"), 409, "conflict")
    assert text.startswith("Cannot delete threat model while a diagram has an active collaboration session")
    del sandbox.state.sessions[diagram_id]
    assert alice.delete(f"/threat_models/{tm_id()}").status_code == 204
    error(alice.get(f"/threat_models/{tm_id()}"), 404, "not_found")
    assert tm_id() not in [m["id"] for m in items(alice.get("/threat_models"), "threat_models", alice.legacy)]
    if alice.legacy:
        assert tm_id() not in sandbox.state.threat_models  # hard delete
    else:
        assert sandbox.state.threat_models[tm_id()]["deleted_at"]  # soft delete
        restored = alice.post(f"/threat_models/{tm_id()}/restore")
        assert restored.status_code == 200 and alice.get(f"/threat_models/{tm_id()}").status_code == 200


def test_security_reviewer_field_rules_at_18(sandbox):
    alice, bob = Api(sandbox, "alice"), Api(sandbox, "bob")
    path = f"/threat_models/{tm_id()}"
    clear = [{"op": "add", "path": "/security_reviewer", "value": None}]
    assign = [{"op": "add", "path": "/security_reviewer", "value": {"provider_id": "carol"}}]
    if alice.legacy:  # 0.217's ThreatModel has no security_reviewer field
        error(alice.patch(path, assign), 400, "invalid_input")
        return
    assert alice.patch(path, clear).status_code == 200  # the owner may clear it
    error(alice.patch(path, assign), 403, "forbidden")  # but only reviewers may assign it
    error(bob.patch(path, clear), 403, "forbidden")
    alice.user.is_security_reviewer = True
    assigned = alice.patch(path, assign)
    assert assigned.status_code == 200 and assigned.json()["security_reviewer"]["email"] == "carol@tmi.local"


def test_modified_after_on_the_model_list_at_18(sandbox_factory):
    """A model's own writes count, its children's do not (PROTOCOL.md 12.9, 12.15)."""
    server = sandbox_factory("1.8")
    alice = Api(server, "alice")
    cutoff = server.state.timestamp()
    helpers.advance_clock(server.base_url, 5)
    renamed = alice.patch(f"/threat_models/{tm_id()}", [{"op": "replace", "path": "/name", "value": "Renamed"}])
    assert renamed.status_code == 200, renamed.text
    other = next(
        key
        for key, tm in server.state.threat_models.items()
        if key != tm_id() and server.state.role_of(alice.user, tm) in ("owner", "writer")
    )
    threat = {"name": "Child write", "threat_type": ["Spoofing"]}
    assert alice.post(f"/threat_models/{other}/threats", threat).status_code == 201
    found = items(alice.get("/threat_models", params={"modified_after": cutoff}), "threat_models", False)
    assert [tm["id"] for tm in found] == [tm_id()]
    for bad in ("2026-12-01", "garbage"):  # invalid_id (sic), as the real 1.8.22 says
        error(alice.get("/threat_models", params={"modified_after": bad}), 400, "invalid_id")


def _nulls(value, where: str = "") -> list[str]:
    """Where `value` holds a null, outside diagram cells (stored verbatim, PROTOCOL.md 5.4)."""
    if isinstance(value, dict):
        return [
            found
            for key, item in value.items()
            if key != "cells"
            for found in ([f"{where}/{key}"] if item is None else _nulls(item, f"{where}/{key}"))
        ]
    if isinstance(value, list):
        return [found for i, item in enumerate(value) for found in _nulls(item, f"{where}/{i}")]
    return []


def test_no_answer_carries_a_null_at_18(sandbox_factory):
    """Seen on the real 1.8.22 (PROTOCOL.md 12.10): an unset optional field is left out, never `null`."""
    server = sandbox_factory("1.8")
    alice = Api(server, "alice")
    path = f"/threat_models/{tm_id()}"
    unset = {"description": None, "mitigation": None, "diagram_id": None, "cell_id": None, "asset_id": None}
    threat = alice.post(f"{path}/threats", {"name": "Unset fields", "threat_type": ["Spoofing"], **unset})
    assert threat.status_code == 201, threat.text
    threat_path = f"{path}/threats/{threat.json()['id']}"
    answers = {
        "created threat": threat,
        "put threat": alice.put(threat_path, {"name": "Unset fields", "threat_type": ["Spoofing"], **unset}),
        "patched threat": alice.patch(threat_path, [{"op": "add", "path": "/asset_id", "value": None}]),
        "cleared reviewer": alice.patch(path, [{"op": "add", "path": "/security_reviewer", "value": None}]),
        "put model": alice.put(
            path, {"name": "Payments", "description": None, "issue_uri": None, "threat_model_framework": "STRIDE"}
        ),
    }
    assert all(a.status_code in (200, 201) for a in answers.values()), {k: a.text for k, a in answers.items()}
    stored = server.state.threat_models[tm_id()]
    assert any(v is None for t in stored["threats"] for v in t.values())  # the sandbox did keep some nulls
    answers["model"] = alice.get(path)
    answers["model list"] = alice.get("/threat_models", params={"limit": 100})
    answers["threat"] = alice.get(threat_path)
    for collection in ("threats", "diagrams", "documents", "assets", "notes", "repositories"):
        answers[collection] = alice.get(f"{path}/{collection}", params={"limit": 100})
    answers["diagram"] = alice.get(f"{path}/diagrams/{stored['diagrams'][0]['id']}")
    nulls = {what: _nulls(answer.json()) for what, answer in answers.items()}
    # the one null: a PUT that leaves `authorization` out is answered `"authorization": null` (test_put_requirements_)
    assert nulls == {what: ["/authorization"] if what == "put model" else [] for what in answers}
    assert "description" not in answers["model"].json() and "security_reviewer" not in answers["model"].json()
