"""What each answer carries, as the real TMI 1.8.22 and 0.217.8 answered (recorded 2026-12-04 beside the sandbox:
/tmp/real-tmi/differences.md rows 1.8 #11-14, #16, #19, #28-35, #41, #43, #44, #61 and 0.217 #6-8, #12-14, #22,
#24, #25, #27). Each table below is the recorded answer's keys."""

from __future__ import annotations

import uuid

import pytest

from tests.sandbox.rest_world import Api, child_body, error, items, tm_id

BASE = f"/threat_models/{tm_id()}"
COLLECTIONS = ("threats", "diagrams", "documents", "assets", "notes", "repositories")

# op -> collection -> (keys the answer has, keys it lacks), at 1.8.22
SHAPES_18: dict[str, dict[str, tuple[set[str], set[str]]]] = {
    "create": {
        "threats": ({"alias", "created_at", "modified_at"}, {"metadata", "auto_generated", "mitigated"}),
        "diagrams": (
            {"alias", "created_at", "metadata", "image", "update_vector"},
            {"include_in_report", "timmy_enabled", "auto_generated"},
        ),
        "documents": ({"alias", "created_at", "access_status", "content_source"}, {"metadata"}),
        "assets": ({"alias", "created_at", "modified_at"}, {"metadata"}),
        "notes": ({"alias", "content"}, {"metadata", "created_at", "modified_at", "auto_generated"}),
        "repositories": ({"alias", "uri"}, {"metadata", "created_at", "modified_at"}),
    },
    "get": {
        "threats": ({"alias", "created_at", "metadata", "auto_generated", "mitigated"}, set()),
        "diagrams": ({"alias", "metadata", "image", "auto_generated", "include_in_report"}, set()),
        "documents": ({"alias", "metadata", "access_status", "content_source"}, set()),
        "assets": ({"alias", "metadata", "created_at", "modified_at"}, {"auto_generated"}),
        "notes": ({"alias", "metadata", "created_at", "modified_at", "auto_generated"}, set()),
        "repositories": ({"alias", "metadata"}, {"created_at", "modified_at"}),
    },
    "put": {
        "threats": ({"modified_at", "mitigated"}, {"alias", "metadata", "auto_generated", "created_at"}),
        "diagrams": ({"created_at", "modified_at", "cells"}, {"alias", "metadata", "auto_generated", "image"}),
        "documents": (
            {"modified_at"},
            {"alias", "metadata", "created_at", "access_status", "content_source"},
        ),
        "assets": ({"created_at", "modified_at"}, {"alias", "metadata"}),
        "notes": ({"content"}, {"alias", "metadata", "auto_generated", "created_at", "modified_at"}),
        "repositories": ({"modified_at"}, {"alias", "metadata", "created_at"}),
    },
    "patch": {
        "threats": ({"alias", "metadata", "auto_generated", "created_at"}, set()),
        "diagrams": ({"alias", "metadata", "auto_generated", "image"}, set()),
        "documents": ({"alias", "metadata", "access_status"}, set()),
        "assets": ({"alias", "metadata", "created_at"}, set()),
        "notes": ({"alias", "metadata", "auto_generated", "created_at"}, set()),
        "repositories": ({"alias", "metadata", "modified_at"}, {"created_at"}),
    },
}
# 0.217.8: the keys it sends as null (when unset), and the keys it leaves out.
NULLS_0217 = {
    "threats": {"asset_id", "cell_id", "diagram_id"},
    "diagrams": {"description"},
    "documents": {"description"},
    "assets": {"description", "classification", "criticality", "sensitivity"},
    "notes": {"description"},
    "repositories": {"description"},
}
UNTIMED_0217 = {"documents", "assets", "notes", "repositories"}


def _write_all(api: Api, collection: str) -> dict[str, dict]:
    """Create, read, replace and patch one child; every answer's body by operation."""
    created = api.post(f"{BASE}/{collection}", child_body(collection, api.legacy))
    assert created.status_code == 201, created.text[:300]
    path = f"{BASE}/{collection}/{created.json()['id']}"
    answers = {"create": created.json(), "get": api.get(path).json()}
    body = {**child_body(collection, api.legacy), "name": "Renamed"}
    if collection == "diagrams":
        body["cells"] = []
    if not (collection == "diagrams" and api.legacy):  # 0.217 takes no diagram PUT with cells
        put = api.put(path, body)
        assert put.status_code == 200, put.text[:300]
        answers["put"] = put.json()
    patched = api.patch(path, [{"op": "replace", "path": "/name", "value": "Patched"}])
    assert patched.status_code == 200, patched.text[:300]
    answers["patch"] = patched.json()
    return answers


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_child_answers_carry_what_the_real_18_sends(sandbox_factory, collection):
    answers = _write_all(Api(sandbox_factory("1.8"), "bob"), collection)
    for op, body in answers.items():
        has, lacks = SHAPES_18[op][collection]
        assert has <= set(body), (op, has - set(body))
        assert lacks.isdisjoint(body), (op, lacks & set(body))
    if collection == "threats":  # `mitigated` is echoed on create only when sent; reads fill it
        assert answers["get"]["mitigated"] is False and answers["get"]["auto_generated"] is False
    if collection == "documents":
        assert (answers["get"]["access_status"], answers["get"]["content_source"]) == ("unknown", "http")


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_child_answers_carry_what_the_real_0217_sends(sandbox_factory, collection):
    answers = _write_all(Api(sandbox_factory("0.217"), "bob"), collection)
    for op, body in answers.items():
        assert {k for k in NULLS_0217[collection] if k in body and body[k] is None} == NULLS_0217[collection], op
        timed = collection not in UNTIMED_0217
        assert ("modified_at" in body) == timed, op
        assert ("created_at" in body) == (timed and not (op == "put" and collection == "threats")), op
        if op in ("create", "put") and collection in UNTIMED_0217:
            assert "metadata" not in body, op
        elif op == "create" and collection == "diagrams":
            assert body["metadata"] == [], op
        else:
            assert body["metadata"] is None, op  # none yet: null, not []
    if collection == "threats":
        assert answers["create"]["mitigated"] is False


def test_lists_18_repositories_without_timestamps_and_threats_with_their_flags(sandbox_factory):
    api = Api(sandbox_factory("1.8"), "carol")
    for repository in items(api.get(f"{BASE}/repositories"), "repositories", False):
        assert {"created_at", "modified_at"}.isdisjoint(repository) and repository["metadata"] is not None
    for threat in items(api.get(f"{BASE}/threats"), "threats", False):
        assert threat["auto_generated"] is False and isinstance(threat["mitigated"], bool)
        assert "metadata" not in threat  # listed without it; GET .../threats/{id} has it


def test_0217_lists_notes_with_content_and_nulls(sandbox_factory):
    api = Api(sandbox_factory("0.217"), "carol")
    notes = items(api.get(f"{BASE}/notes"), "notes", True)
    assert notes and all(n["content"] and "created_at" not in n and "description" in n for n in notes)
    threat = items(api.get(f"{BASE}/threats"), "threats", True)[0]
    assert threat["metadata"] is None  # listed as null even when the threat has metadata (GET shows it)


def test_embedded_threats_at_18_leave_out_alias_and_report_flags(sandbox_factory):
    api = Api(sandbox_factory("1.8"), "carol")
    model = api.get(BASE).json()
    assert model["threats"]
    for threat in model["threats"]:
        assert {"alias", "include_in_report", "timmy_enabled", "auto_generated"}.isdisjoint(threat)
        assert "metadata" in threat and "created_at" in threat
    assert all("alias" in d and "image" in d for d in model["diagrams"])  # diagrams are embedded whole


def test_threat_models_are_numbered_from_10001_at_18(sandbox_factory):
    server = sandbox_factory("1.8", seed=None)
    alice = Api(server, "alice")
    first = alice.post("/threat_models", {"name": "First"}).json()
    second = alice.post("/threat_models", {"name": "Second"}).json()
    assert (first["alias"], second["alias"]) == (10001, 10002)
    threat = alice.post(f"/threat_models/{first['id']}/threats", {"name": "T", "threat_type": ["Spoofing"]})
    assert threat.json()["alias"] == 1  # children still count from 1 per model


def test_threat_ids_are_uuid7_and_the_rest_uuid4(sandbox):
    api = Api(sandbox, "bob")
    threat = api.post(f"{BASE}/threats", child_body("threats", api.legacy)).json()
    asset = api.post(f"{BASE}/assets", child_body("assets", api.legacy)).json()
    model = api.post("/threat_models", {"name": "Ids"}).json()
    assert uuid.UUID(threat["id"]).version == 7
    assert uuid.UUID(asset["id"]).version == uuid.UUID(model["id"]).version == 4
    later = api.post(f"{BASE}/threats", child_body("threats", api.legacy)).json()
    assert later["id"][:8] >= threat["id"][:8]  # time-ordered


def test_severity_sorts_by_rank_at_18(sandbox_factory):
    server = sandbox_factory("1.8", seed=None)
    alice = Api(server, "alice")
    model = alice.post("/threat_models", {"name": "Ranks"}).json()["id"]
    for severity in ("medium", "critical", "low", "high"):
        made = alice.post(
            f"/threat_models/{model}/threats", {"name": severity, "threat_type": ["Spoofing"], "severity": severity}
        )
        assert made.status_code == 201, made.text

    def listed(sort: str) -> list[str]:
        answer = alice.get(f"/threat_models/{model}/threats", params={"sort": sort})
        return [t["severity"] for t in items(answer, "threats", False)]

    assert listed("severity:asc") == ["low", "medium", "high", "critical"]
    assert listed("severity:desc") == ["critical", "high", "medium", "low"]


def test_threat_type_is_optional_at_18(sandbox_factory):
    alice = Api(sandbox_factory("1.8"), "alice")
    made = alice.post(f"{BASE}/threats", {"name": "No type yet"})
    assert made.status_code == 201, made.text
    assert made.json()["threat_type"] == []
    legacy = Api(sandbox_factory("0.217"), "alice")
    error(legacy.post(f"{BASE}/threats", {"name": "No type yet"}), 400, "invalid_input")


def test_metadata_reads_back_sorted_by_key_at_18(sandbox_factory):
    alice = Api(sandbox_factory("1.8", seed=None), "alice")
    created = alice.post("/threat_models", {"name": "Keys", "metadata": [{"key": "zeta", "value": "v"}]})
    model = created.json()["id"]
    for key in ("alpha", "mid"):
        assert alice.post(f"/threat_models/{model}/metadata", {"key": key, "value": "v"}).status_code == 201
    assert [m["key"] for m in alice.get(f"/threat_models/{model}").json()["metadata"]] == ["alpha", "mid", "zeta"]
    assert [m["key"] for m in alice.get(f"/threat_models/{model}/metadata").json()] == ["alpha", "mid", "zeta"]
    bulk = alice.post(f"/threat_models/{model}/metadata/bulk", [{"key": "beta", "value": "v"}])
    assert [m["key"] for m in bulk.json()] == ["alpha", "beta", "mid", "zeta"]
    threat = alice.post(f"/threat_models/{model}/threats", {"name": "T", "threat_type": ["Spoofing"]}).json()
    for key in ("b", "a"):
        alice.post(f"/threat_models/{model}/threats/{threat['id']}/metadata", {"key": key, "value": "v"})
    got = alice.get(f"/threat_models/{model}/threats/{threat['id']}").json()
    assert [m["key"] for m in got["metadata"]] == ["a", "b"]


def test_the_diagram_model_at_18(sandbox_factory):
    alice = Api(sandbox_factory("1.8", seed=None), "alice")
    model = alice.post("/threat_models", {"name": "Minimal", "description": "d"}).json()["id"]
    asset = alice.post(f"/threat_models/{model}/assets", {"name": "Cards", "type": "data"}).json()["id"]
    diagram = alice.post(f"/threat_models/{model}/diagrams", {"name": "D", "type": "DFD-1.0.0"}).json()["id"]
    path = f"/threat_models/{model}/diagrams/{diagram}"
    empty = alice.get(f"{path}/model")
    assert empty.status_code == 200, empty.text
    assert empty.json() == {
        "id": model,
        "name": "Minimal",
        "description": "d",
        "metadata": {},
        "cells": [],
        "assets": [],
    }
    web, db, flow = (str(uuid.uuid4()) for _ in range(3))
    cells = [
        {"id": web, "shape": "process", "x": 0, "y": 0, "width": 80, "height": 40, "attrs": {"text": {"text": "Web"}}},
        {
            "id": db,
            "shape": "store",
            "x": 50,
            "y": 0,
            "width": 80,
            "height": 40,
            "data": {"data_assets": [asset], "_metadata": [{"key": "k", "value": "v"}]},
        },
        {"id": flow, "shape": "flow", "source": {"cell": web}, "target": {"cell": db}},
    ]
    patched = alice.patch(path, [{"op": "replace", "path": "/cells", "value": cells}])
    assert patched.status_code == 200, patched.text
    got = alice.get(f"{path}/model").json()
    by_id = {c["id"]: c for c in got["cells"]}
    assert by_id[web]["labels"] == ["Web"] and by_id[web]["children"] == [] and "x" not in by_id[web]
    assert by_id[db]["data_asset_ids"] == [asset] and by_id[db]["metadata"] == {"k": "v"}
    assert by_id[flow]["source"] == {"cell": web} and by_id[flow]["shape"] == "flow"
    assert [a["id"] for a in got["assets"]] == [asset]
    error(alice.get(f"/threat_models/{model}/diagrams/{uuid.uuid4()}/model"), 404, "not_found")


def test_threat_model_answers_at_0217(sandbox_factory):
    server = sandbox_factory("0.217", seed=None)
    alice = Api(server, "alice")
    error(alice.post("/threat_models", {"name": ""}), 400, "invalid_input")
    created = alice.post("/threat_models", {"name": "Nulls"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["status"], body["status_updated"], body["metadata"]) == (None, None, [])
    assert body["threat_model_framework"] == "" and body["threats"] == [] and "diagrams" not in body
    assert body["owner"]["provider_id"] == alice.user.email
    path = f"/threat_models/{body['id']}"
    got = alice.get(path).json()
    assert got["authorization"] == [] and got["owner"]["provider_id"] == alice.user.provider_id
    assert (got["status"], got["metadata"], got["threat_model_framework"]) == (None, None, "STRIDE")
    assert set(got) >= {"threats", "diagrams"} and "documents" not in got
    listed = items(alice.get("/threat_models"), "threat_models", True)[0]
    assert (listed["status"], listed["status_updated"], listed["threat_model_framework"]) == (None, None, "STRIDE")
    status = alice.patch(path, [{"op": "replace", "path": "/status", "value": "in_progress"}])
    assert status.status_code == 200, status.text
    # the PATCH answer still shows the old status_updated (null); a GET has the time it changed
    assert status.json()["status"] == "in_progress" and status.json()["status_updated"] is None
    assert alice.get(path).json()["status_updated"]
    put = alice.put(path, {"name": "Kept", "threat_model_framework": "STRIDE", "authorization": got["authorization"]})
    assert put.status_code == 200, put.text  # GET's [] keeps the owner
    assert alice.get(path).status_code == 200
    stranger = Api(server, "dave")
    assert error(stranger.get(path), 403, "forbidden") == "You don't have sufficient permissions to perform this action"


def test_an_unreadable_threat_sort_is_ignored_at_0217(sandbox_factory):
    alice = Api(sandbox_factory("0.217"), "alice")
    bogus = alice.get(f"{BASE}/threats", params={"sort": "bogus:asc"})
    assert bogus.status_code == 200, bogus.text
    default = alice.get(f"{BASE}/threats")
    assert [t["id"] for t in bogus.json()] == [t["id"] for t in default.json()]


def test_the_acl_reads_back_by_role_with_group_names_at_18(sandbox_factory):
    """Checked on the real 1.8.22 (2026-12-04) with a confidential model shared with everyone."""
    alice = Api(sandbox_factory("1.8", seed=None), "alice")
    everyone = {"principal_type": "group", "provider": "tmi", "provider_id": "everyone", "role": "reader"}
    created = alice.post("/threat_models", {"name": "Secret", "is_confidential": True, "authorization": [everyone]})
    assert created.status_code == 201, created.text
    made = [(e["provider_id"], e["role"]) for e in created.json()["authorization"]]
    assert made == [
        ("alice", "owner"),
        ("everyone", "reader"),
        ("confidential-project-reviewers", "owner"),
        ("tmi-automation", "writer"),
    ]
    read = alice.get(f"/threat_models/{created.json()['id']}").json()["authorization"]
    assert [(e["provider_id"], e["role"], e.get("display_name")) for e in read] == [
        ("tmi-automation", "writer", "TMI Automation"),
        ("everyone", "reader", "Everyone (Pseudo-group)"),
        ("alice", "owner", "Alice (TMI User)"),
        ("confidential-project-reviewers", "owner", "Confidential Project Reviewers"),
    ]


def test_0217_reads_every_acl_back_as_empty_and_a_put_of_it_keeps_the_sharing(sandbox_factory):
    """The real 0.217.8 answered GET `authorization: []` for a model whose ACL a PATCH had just added to."""
    server = sandbox_factory("0.217")
    bob, carol = Api(server, "bob"), Api(server, "carol")  # the seed's writer and reader on the model
    got = bob.get(BASE).json()
    assert got["authorization"] == [] and server.state.threat_models[tm_id()]["authorization"]
    put = bob.put(BASE, {"name": "Renamed", "threat_model_framework": "STRIDE", "authorization": got["authorization"]})
    assert put.status_code == 200, put.text
    assert put.json()["authorization"] == [] and carol.get(BASE).status_code == 200  # nothing was unshared
