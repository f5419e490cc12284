"""The answers shaped as the real 1.8.22 and 0.217.8 gave them (tests/sandbox/test_rest_shapes.py), each checked
against the generation's OpenAPI document: where a real server's answer breaks its own spec, a deviation in
portal/conformance/contract/deviations.py names it; anything else fails the test."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from portal.sandbox import seed

JSON_PATCH = {"Content-Type": "application/json-patch+json"}
CHILDREN = {
    "threats": {"name": "Spoofing", "threat_type": ["Spoofing"]},
    "diagrams": {"name": "Context", "type": "DFD-1.0.0"},
    "documents": {"name": "Design", "uri": "https://8.8.8.8/design"},
    "assets": {"name": "Customer data", "type": "data"},
    "notes": {"name": "Kick-off", "content": "# Notes"},
    "repositories": {"name": "Code", "uri": "https://8.8.8.8/repo.git"},
}


@pytest.fixture
def api(sandbox_factory, generation, validating_transport) -> httpx.Client:
    server = sandbox_factory(generation, seed=None)
    user = seed.ensure_user(server.state, "alice")
    token = server.state.issue_tokens(user)["access_token"]
    with httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, transport=validating_transport
    ) as client:
        yield client


def _ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text[:300]
    return response.json()


def test_threat_model_answers(api, generation):
    legacy = generation == "0.217"
    created = _ok(api.post("/threat_models", json={"name": "Shapes", "description": "d"}), 201)
    path = f"/threat_models/{created['id']}"
    _ok(api.get(path))
    _ok(api.get("/threat_models"))
    body = {"name": "Shapes 2", "threat_model_framework": "STRIDE"}
    if legacy:
        body["authorization"] = []
    put = _ok(api.put(path, json=body))  # 1.8: no authorization sent, `"authorization": null` answered
    assert put["authorization"] == ([] if legacy else None)
    _ok(api.patch(path, content=json.dumps([{"op": "replace", "path": "/name", "value": "P"}]), headers=JSON_PATCH))


def test_child_answers(api, generation):
    tm = _ok(api.post("/threat_models", json={"name": "Children"}), 201)["id"]
    for collection, body in CHILDREN.items():
        if collection == "threats" and generation == "0.217":
            body = {**body, "threat_type": "Spoofing"}  # one string at 0.217 (PROTOCOL.md 9.3)
        created = _ok(api.post(f"/threat_models/{tm}/{collection}", json=body), 201)
        path = f"/threat_models/{tm}/{collection}/{created['id']}"
        _ok(api.get(path))
        _ok(api.get(f"/threat_models/{tm}/{collection}"))
        if collection != "diagrams":
            _ok(api.put(path, json={**body, "name": "Renamed"}))
        _ok(api.patch(path, content=json.dumps([{"op": "replace", "path": "/name", "value": "P"}]), headers=JSON_PATCH))
    _ok(api.get(f"/threat_models/{tm}"))


@pytest.mark.parametrize("generation", ["1.8"])  # 0.217 has no diagram model and requires threat_type
def test_18_only_answers(api, generation):
    tm = _ok(api.post("/threat_models", json={"name": "Model"}), 201)["id"]
    _ok(api.post(f"/threat_models/{tm}/threats", json={"name": "Untyped"}), 201)
    diagram = _ok(api.post(f"/threat_models/{tm}/diagrams", json=CHILDREN["diagrams"]), 201)["id"]
    cell = {"id": str(uuid.uuid4()), "shape": "process", "x": 0, "y": 0, "width": 80, "height": 40}
    patch = [{"op": "replace", "path": "/cells", "value": [cell]}]
    _ok(api.patch(f"/threat_models/{tm}/diagrams/{diagram}", content=json.dumps(patch), headers=JSON_PATCH))
    _ok(api.get(f"/threat_models/{tm}/diagrams/{diagram}/model"))
