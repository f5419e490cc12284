"""Threats, documents, assets, notes and repositories (and the generic part of diagrams), both generations."""

from __future__ import annotations

import pytest

from portal.sandbox import seed
from tests.sandbox import helpers
from tests.sandbox.rest_world import PAYMENTS, Api, child_body, error, first_child, items, threat_body, tm_id

COLLECTIONS = ("threats", "diagrams", "documents", "assets", "notes", "repositories")
BASE = f"/threat_models/{tm_id()}"


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_list_shape(sandbox, collection):
    carol = Api(sandbox, "carol")
    listed = items(carol.get(f"{BASE}/{collection}"), collection, carol.legacy)
    stored = sandbox.state.threat_models[tm_id()][collection]
    assert {i["id"] for i in listed} == {s["id"] for s in stored}
    sample = listed[0]
    if collection == "notes":  # the real 0.217.8 lists notes with their content, 1.8.22 without
        assert ("content" in sample) == carol.legacy and sample["name"]
    elif collection == "diagrams":
        expected = (
            {"id", "name", "type"}
            if carol.legacy
            else {
                "id",
                "name",
                "type",
                "description",
                "created_at",
                "modified_at",
                "image",
                "include_in_report",
                "timmy_enabled",
                "alias",
            }
        )
        assert set(sample) == expected
    else:
        kept = next(s for s in stored if s["id"] == sample["id"])
        assert {k: v for k, v in sample.items() if v is not None and k != "metadata"} == {
            k: v for k, v in kept.items() if k in sample and k != "metadata"
        }
        # timestamps: none on 0.217's documents, assets, notes and repositories, nor on 1.8's repositories
        timed = collection == "threats" or (not carol.legacy and collection != "repositories")
        assert ("created_at" in sample) == ("modified_at" in sample) == timed


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_create_get_put_patch_delete(sandbox, collection):
    bob = Api(sandbox, "bob")  # writer; deleting diagrams needs the owner
    alice = Api(sandbox, "alice")
    before = sandbox.state.timestamp()
    created = bob.post(f"{BASE}/{collection}", child_body(collection, bob.legacy))
    assert created.status_code == 201, created.text[:300]
    obj = created.json()
    path = f"{BASE}/{collection}/{obj['id']}"
    got = bob.get(path).json()
    # a read shows what the create answered (it may add fields the create answer leaves out, see test_rest_shapes)
    assert {k: got.get(k) for k in obj if k != "metadata"} == {k: v for k, v in obj.items() if k != "metadata"}
    if not bob.legacy:
        assert isinstance(obj["alias"], int)
    body = {k: v for k, v in child_body(collection, bob.legacy).items()}
    body["name"] = "Renamed"
    if collection == "diagrams":
        body["cells"] = []
    put = bob.put(path, body)
    if collection == "diagrams" and bob.legacy:  # 0.217.8 takes no PUT with cells (PROTOCOL.md 12b.6)
        assert error(put, 400, "invalid_input") == "cells is unsupported"
    else:
        assert put.status_code == 200, put.text[:300]
        assert put.json()["name"] == "Renamed" and bob.get(path).json().get("created_at") == got.get("created_at")
    patched = bob.patch(path, [{"op": "replace", "path": "/name", "value": "Patched"}])
    assert patched.status_code == 200, patched.text[:300]
    assert patched.json()["name"] == "Patched"
    if "modified_at" in got:
        assert patched.json()["modified_at"] >= got["modified_at"]
    # Neither generation moves the parent's modified_at on a child write (PROTOCOL.md 12.9; the real 0.217.8 too).
    assert sandbox.state.get_threat_model(tm_id())["modified_at"] < before
    text = error(bob.patch(path, [{"op": "replace", "path": "/id", "value": seed.sid("other")}]), 400, "invalid_input")
    assert text.startswith("Field 'id' is not allowed in PATCH requests")
    deleter = alice if collection == "diagrams" else bob
    assert deleter.delete(path).status_code == 204
    missing = error(bob.get(path), 404, "not_found")
    if bob.legacy and collection == "repositories":
        assert missing == "Repository code reference not found"  # the real 0.217.8's words
    again = deleter.delete(path)
    if bob.legacy:  # the real 0.217.8: its store's failure, not a 404
        singular = {"repositories": "repository"}.get(collection, collection.removesuffix("s"))
        assert error(again, 500, "server_error") == f"Failed to delete {singular}"
    else:
        error(again, 404, "not_found")
    listed = items(bob.get(f"{BASE}/{collection}", params={"limit": 100}), collection, bob.legacy)
    assert obj["id"] not in [i["id"] for i in listed]


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_roles_on_children(sandbox, collection):
    child = first_child(sandbox, collection)
    path = f"{BASE}/{collection}/{child['id']}"
    carol, dave = Api(sandbox, "carol"), Api(sandbox, "dave")
    assert carol.get(path).status_code == 200
    error(carol.post(f"{BASE}/{collection}", child_body(collection, carol.legacy)), 403, "forbidden")
    error(carol.patch(path, [{"op": "replace", "path": "/name", "value": "x"}]), 403, "forbidden")
    error(carol.delete(path), 403, "forbidden")
    error(dave.get(path), 403, "forbidden")
    error(dave.get(f"{BASE}/{collection}"), 403, "forbidden")
    if collection == "diagrams":  # deleting a diagram needs the owner
        error(Api(sandbox, "bob").delete(path), 403, "forbidden")


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_a_child_of_another_model_is_404(sandbox, collection):
    foreign = first_child(sandbox, collection, "Mobile Banking App")  # alice reads that one too
    response = Api(sandbox, "alice").get(f"{BASE}/{collection}/{foreign['id']}")
    text = error(response, 404, "not_found")
    if collection == "diagrams":
        assert text == "Diagram not found in this threat model"
    error(Api(sandbox, "alice").get(f"{BASE}/{collection}/{seed.sid('missing')}"), 404, "not_found")


@pytest.mark.parametrize("collection", ["documents", "assets", "notes", "repositories"])
def test_required_and_unknown_fields(sandbox, collection):
    bob = Api(sandbox, "bob")
    body = child_body(collection, bob.legacy)
    required = {"documents": "uri", "assets": "type", "notes": "content", "repositories": "uri"}[collection]
    error(bob.post(f"{BASE}/{collection}", {k: v for k, v in body.items() if k != required}), 400, "invalid_input")
    strict = bob.post(f"{BASE}/{collection}", {**body, "bogus": True})
    if bob.legacy:  # 0.217's schemas are strict
        error(strict, 400, "invalid_input")
    else:  # 1.8's child schemas are open: the unknown field passes validation and is not stored
        assert strict.status_code == 201 and "bogus" not in strict.json()
    text = error(bob.post(f"{BASE}/{collection}", {**body, "created_at": seed.at(0)}), 400, "invalid_input")
    assert text.startswith("Field 'created_at' is not allowed in POST requests")


def test_threat_schema_differs_per_generation(sandbox):
    bob = Api(sandbox, "bob")
    wrong = threat_body(not bob.legacy)  # the other generation's threat_type
    error(bob.post(f"{BASE}/threats", wrong), 400, "invalid_input" if bob.legacy else "invalid_id")
    created = bob.post(f"{BASE}/threats", threat_body(bob.legacy, severity="High", status="In Progress"))
    assert created.status_code == 201
    threat = created.json()
    if bob.legacy:  # stored verbatim
        assert (threat["severity"], threat["status"], threat["threat_type"]) == ("High", "In Progress", "Spoofing")
        assert "include_in_report" not in threat
    else:  # the enum normaliser rewrote them
        assert (threat["severity"], threat["status"], threat["threat_type"]) == ("high", "in_progress", ["Spoofing"])
        assert threat["include_in_report"] is True and threat["threat_model_id"] == tm_id()
        patched = bob.patch(
            f"{BASE}/threats/{threat['id']}", [{"op": "replace", "path": "/severity", "value": "Critical"}]
        )
        assert patched.json()["severity"] == "Critical"  # a patch `value` is not normalised


def test_threat_filters_and_sort(sandbox):
    alice = Api(sandbox, "alice")
    stored = [t for tm in sandbox.state.threat_models.values() if tm["name"] == PAYMENTS for t in tm["threats"]]
    severity = stored[0]["severity"]
    query = {"severity": severity.capitalize() if not alice.legacy else severity}
    found = items(alice.get(f"{BASE}/threats", params=query), "threats", alice.legacy)
    assert found and all(t["severity"] == severity for t in found)
    assert len(found) == sum(t["severity"] == severity for t in stored)
    by_name = items(alice.get(f"{BASE}/threats", params={"sort": "name:asc"}), "threats", alice.legacy)
    assert [t["name"] for t in by_name] == sorted(t["name"] for t in stored)
    default = items(alice.get(f"{BASE}/threats"), "threats", alice.legacy)
    assert [t["created_at"] for t in default] == sorted((t["created_at"] for t in stored), reverse=True)
    if alice.legacy:
        assert (
            error(alice.get(f"{BASE}/threats", params={"limit": 500}), 400, "invalid_input")
            == "Limit must be between 1 and 100"
        )
        return
    two = [stored[0]["status"], stored[1]["status"]]
    multi = items(alice.get(f"{BASE}/threats", params=[("status", two[0]), ("status", two[1])]), "threats", False)
    assert {t["id"] for t in multi} == {t["id"] for t in stored if t["status"] in two}
    scored = items(alice.get(f"{BASE}/threats", params={"score_ge": 5}), "threats", False)
    assert {t["id"] for t in scored} == {t["id"] for t in stored if t["score"] >= 5}
    error(alice.get(f"{BASE}/threats", params={"severity": "catastrophic"}), 400, "invalid_input")
    bogus = items(alice.get(f"{BASE}/threats", params={"sort": "bogus:desc"}), "threats", False)
    assert [t["id"] for t in bogus] == [t["id"] for t in default]  # 1.8 falls back to the default order (12.6)
    error(alice.get(f"{BASE}/threats", params={"limit": 500}), 400, "invalid_input")


def test_soft_delete_and_restore_at_18(sandbox):
    bob = Api(sandbox, "bob")
    threat = first_child(sandbox, "threats")
    path = f"{BASE}/threats/{threat['id']}"
    assert bob.delete(path).status_code == 204
    if bob.legacy:  # hard delete, no restore endpoint
        assert threat not in sandbox.state.threat_models[tm_id()]["threats"]
        assert bob.post(path + "/restore").status_code == 404
        return
    assert threat["deleted_at"]
    error(bob.get(f"{BASE}/threats", params={"include_deleted": "true"}), 403, "forbidden")
    assert threat["id"] not in [t["id"] for t in items(bob.get(f"{BASE}/threats"), "threats", False)]
    restored = bob.post(path + "/restore")
    assert restored.status_code == 200 and "deleted_at" not in restored.json()
    assert bob.get(path).status_code == 200


@pytest.mark.parametrize("collection", ["threats", "documents", "assets", "repositories"])
def test_bulk_create_and_replace(sandbox, collection):
    bob = Api(sandbox, "bob")
    body = child_body(collection, bob.legacy)
    created = bob.post(f"{BASE}/{collection}/bulk", [body, {**body, "name": "Second"}])
    assert created.status_code == 201, created.text[:300]
    ids = [c["id"] for c in created.json()]
    assert len(set(ids)) == 2 and all(bob.get(f"{BASE}/{collection}/{i}").status_code == 200 for i in ids)
    replaced = bob.put(f"{BASE}/{collection}/bulk", [{**body, "id": i, "name": f"Bulk {n}"} for n, i in enumerate(ids)])
    assert replaced.status_code == 200, replaced.text[:300]
    assert [c["name"] for c in replaced.json()] == ["Bulk 0", "Bulk 1"]
    missing = bob.put(f"{BASE}/{collection}/bulk", [{**body, "name": "Gone", "id": seed.sid("nope")}])
    error(missing, 404, "not_found")
    error(Api(sandbox, "carol").post(f"{BASE}/{collection}/bulk", [body]), 403, "forbidden")


def test_bulk_patch_and_delete_threats(sandbox):
    bob = Api(sandbox, "bob")
    stored = sandbox.state.threat_models[tm_id()]["threats"]
    first, second = stored[0]["id"], stored[1]["id"]
    document = {"patches": [{"id": first, "operations": [{"op": "replace", "path": "/status", "value": "Closed"}]}]}
    patched = bob.http.patch(
        f"{BASE}/threats/bulk",
        json=document,
        headers={"Content-Type": "application/json-patch+json" if bob.legacy else "application/json"},
    )
    assert patched.status_code == 200, patched.text[:300]
    assert patched.json()[0]["status"] == "Closed"
    deleted = bob.delete(f"{BASE}/threats/bulk", params={"threat_ids": f"{first},{second}"})
    assert deleted.status_code == 200 and deleted.json() == {"deleted_count": 2, "deleted_ids": [first, second]}
    listed = items(bob.get(f"{BASE}/threats", params={"limit": 100}), "threats", bob.legacy)
    assert {first, second}.isdisjoint(t["id"] for t in listed)
    error(bob.delete(f"{BASE}/threats/bulk"), 400, "invalid_input")  # threat_ids is required


# -- seen on the real 1.8.22 (PROTOCOL.md 12) ---------------------------------------------------
SERVER_OWNED = {
    "owner": "mallory",
    "threat_model_id": seed.sid("elsewhere"),
    "version": 7,
    "created_by": "mallory",
    "deleted_at": "2026-01-01T00:00:00Z",
}


@pytest.mark.parametrize("collection", ["threats", "documents", "assets", "notes", "repositories"])
def test_server_owned_fields_in_a_child_body_are_ignored_at_18(sandbox_factory, collection):
    bob = Api(sandbox_factory("1.8"), "bob")
    created = bob.post(f"{BASE}/{collection}", {**child_body(collection, False), **SERVER_OWNED})
    assert created.status_code == 201, created.text[:300]
    obj = created.json()
    assert {"owner", "version", "created_by", "deleted_at"}.isdisjoint(obj)
    assert obj.get("threat_model_id", tm_id()) == tm_id()
    path = f"{BASE}/{collection}/{obj['id']}"
    assert bob.get(path).status_code == 200  # not taken for deleted
    put = bob.put(path, {**child_body(collection, False), **SERVER_OWNED, "name": "Renamed"})
    assert put.status_code == 200, put.text[:300]
    assert put.json()["name"] == "Renamed" and "deleted_at" not in put.json()
    for field in ("id", "created_at", "modified_at"):
        value = obj.get(field, seed.at(0))  # 1.8's notes and repositories answer no timestamps
        text = error(
            bob.post(f"{BASE}/{collection}", {**child_body(collection, False), field: value}), 400, "invalid_input"
        )
        assert text.startswith(f"Field '{field}' is not allowed in POST requests")
        text = error(bob.put(path, {**child_body(collection, False), field: value}), 400, "invalid_input")
        assert text.startswith(f"Field '{field}' is not allowed in PUT requests")


@pytest.mark.parametrize(
    "uri", ["http://127.0.0.1:9/internal", "http://localhost:8080/admin", "http://10.0.0.7/", "http://[::1]/x"]
)
def test_a_document_on_an_internal_address_is_refused_at_18(sandbox_factory, uri):
    server = sandbox_factory("1.8")
    bob = Api(server, "bob")
    error(bob.post(f"{BASE}/documents", {"name": "Internal", "uri": uri}), 400, "invalid_input")
    document = first_child(server, "documents")
    path = f"{BASE}/documents/{document['id']}"
    error(bob.put(path, {"name": "Internal", "uri": uri}), 400, "invalid_input")
    error(bob.patch(path, [{"op": "replace", "path": "/uri", "value": uri}]), 400, "invalid_input")
    assert bob.get(path).json()["uri"] == document["uri"]  # nothing was changed
    assert bob.post(f"{BASE}/documents", {"name": "Public", "uri": "https://8.8.8.8/doc"}).status_code == 201


def test_an_empty_asset_id_is_refused_at_18(sandbox_factory):
    server = sandbox_factory("1.8")
    bob = Api(server, "bob")
    text = error(bob.post(f"{BASE}/threats", threat_body(False, asset_id="")), 400, "invalid_input")
    assert text.startswith("Invalid UUID format")
    threat = first_child(server, "threats")
    path = f"{BASE}/threats/{threat['id']}"
    error(bob.put(path, threat_body(False, asset_id="")), 400, "invalid_input")
    error(bob.patch(path, [{"op": "add", "path": "/asset_id", "value": ""}]), 400, "invalid_input")
    assert bob.get(path).json().get("asset_id") == threat.get("asset_id")
    asset = first_child(server, "assets")["id"]
    assert bob.post(f"{BASE}/threats", threat_body(False, asset_id=asset)).json()["asset_id"] == asset


def test_a_sort_it_cannot_read_falls_back_at_18(sandbox_factory):
    server = sandbox_factory("1.8")
    alice = Api(server, "alice")

    def listed(sort: str) -> list[str]:
        return [
            t["id"] for t in items(alice.get(f"{BASE}/threats", params={"sort": sort, "limit": 100}), "threats", False)
        ]

    stored = server.state.threat_models[tm_id()]["threats"]
    by_severity_desc = listed("severity:desc")
    assert by_severity_desc != listed("severity:asc")
    assert listed("bogus:asc") == listed("created_at:desc")  # an unknown field: the default order
    assert listed("severity:sideways") == by_severity_desc  # a bad direction: descending
    assert listed("severity") == by_severity_desc  # no direction: descending
    assert sorted(listed("bogus")) == sorted(t["id"] for t in stored)


@pytest.mark.parametrize("generation", ["1.8", "0.217"])
def test_child_writes_leave_the_parent_modified_at_alone(sandbox_factory, generation):
    """Both real servers (1.8.22, 0.217.8, 2026-12-04): creating, updating and deleting a threat, a document, a
    diagram or a note leaves the model's modified_at where it was, in the model and in the list."""
    server = sandbox_factory(generation)
    bob = Api(server, "bob")
    before = bob.get(BASE).json()["modified_at"]
    listed_before = next(t for t in items(bob.get("/threat_models"), "threat_models", bob.legacy) if t["id"] == tm_id())
    helpers.advance_clock(server.base_url, 5)
    assert bob.post(f"{BASE}/threats", threat_body(bob.legacy)).status_code == 201
    other = first_child(server, "threats")
    assert bob.put(f"{BASE}/threats/{other['id']}", threat_body(bob.legacy, name="Updated")).status_code == 200
    assert bob.post(f"{BASE}/notes", {"name": "n", "content": "c"}).status_code == 201
    assert bob.get(BASE).json()["modified_at"] == before
    listed = next(t for t in items(bob.get("/threat_models"), "threat_models", bob.legacy) if t["id"] == tm_id())
    assert listed["modified_at"] == listed_before["modified_at"] == before
    assert listed["threat_count"] == listed_before["threat_count"] + 1  # the counts follow at once (12.16)


def test_modified_after_on_threats_at_18(sandbox_factory):
    server = sandbox_factory("1.8")
    bob = Api(server, "bob")
    cutoff = server.state.timestamp()
    helpers.advance_clock(server.base_url, 5)
    created = bob.post(f"{BASE}/threats", threat_body(False, name="New one")).json()
    updated = first_child(server, "threats")
    assert bob.put(f"{BASE}/threats/{updated['id']}", threat_body(False, name="Updated")).status_code == 200
    found = items(bob.get(f"{BASE}/threats", params={"modified_after": cutoff}), "threats", False)
    assert {t["id"] for t in found} == {created["id"], updated["id"]}
    for bad in ("2026-12-01", "yesterday", "2026-12-01 10:00:00"):  # invalid_id (sic), as the real server says
        error(bob.get(f"{BASE}/threats", params={"modified_after": bad}), 400, "invalid_id")


def test_a_deleted_threat_stays_embedded_in_its_model_at_18_only(sandbox):
    """Seen on the real 1.8.22 (PROTOCOL.md 12.17): after DELETE gave 204, GET /threat_models/{id} still embeds
    the threat (without `deleted_at`), while the threats list, the threat itself and `threat_count` leave it
    out. 0.217 deletes for good: it is gone everywhere."""
    bob = Api(sandbox, "bob")
    threat = first_child(sandbox, "threats")
    before = items(bob.get(f"{BASE}/threats", params={"limit": 100}), "threats", bob.legacy)

    def counted() -> int:
        listed = items(bob.get("/threat_models", params={"limit": 100}), "threat_models", bob.legacy)
        return next(m["threat_count"] for m in listed if m["id"] == tm_id())

    count_before = counted()
    assert bob.delete(f"{BASE}/threats/{threat['id']}").status_code == 204
    embedded = {t["id"]: t for t in bob.get(BASE).json()["threats"]}
    if bob.legacy:
        assert threat["id"] not in embedded
    else:
        assert threat["id"] in embedded and "deleted_at" not in embedded[threat["id"]]
        assert embedded[threat["id"]]["name"] == threat["name"]
    after = bob.get(f"{BASE}/threats", params={"limit": 100})
    assert [t["id"] for t in items(after, "threats", bob.legacy)] == [
        t["id"] for t in before if t["id"] != threat["id"]
    ]
    if not bob.legacy:
        assert after.json()["total"] == len(before) - 1
    error(bob.get(f"{BASE}/threats/{threat['id']}"), 404, "not_found")
    assert counted() == count_before - 1


def test_post_and_put_lower_case_severity_and_status_a_patch_keeps_them(sandbox):
    """Seen on the real 1.8.22 (PROTOCOL.md 12.18, 2.4): POST and PUT store `severity` and `status` lower-cased,
    a JSON Patch stores the value as sent. 0.217 has no normaliser: every write stores what was sent (9.3)."""
    bob = Api(sandbox, "bob")
    created = bob.post(f"{BASE}/threats", threat_body(bob.legacy, severity="High", status="Mitigated"))
    assert created.status_code == 201, created.text[:300]
    path = f"{BASE}/threats/{created.json()['id']}"
    put = bob.put(path, threat_body(bob.legacy, severity="Critical", status="In Progress"))
    assert put.status_code == 200, put.text[:300]
    patched = bob.patch(
        path,
        [
            {"op": "replace", "path": "/severity", "value": "Medium"},
            {"op": "replace", "path": "/status", "value": "Open"},
        ],
    )
    assert patched.status_code == 200, patched.text[:300]
    written = [(r.json()["severity"], r.json()["status"]) for r in (created, put, patched)]
    if bob.legacy:
        assert written == [("High", "Mitigated"), ("Critical", "In Progress"), ("Medium", "Open")]
    else:
        assert written == [("high", "mitigated"), ("critical", "in_progress"), ("Medium", "Open")]
    stored = bob.get(path).json()
    assert (stored["severity"], stored["status"]) == ("Medium", "Open")
