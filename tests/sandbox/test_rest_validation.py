"""Request validation against each generation's own spec, strict JSON and 1.8's enum normaliser."""

from __future__ import annotations

import json

import httpx
import pytest

from portal.sandbox.rest import normalise, spec
from tests.sandbox.rest_world import Api, error, items, threat_body, tm_id

BASE = f"/threat_models/{tm_id()}"
MISSING = "request body has an error: value is required but missing"


def test_trailing_garbage_is_400(sandbox):
    bob = Api(sandbox, "bob")
    response = bob.http.post(
        f"{BASE}/threats",
        content=json.dumps(threat_body(bob.legacy)) + " }",
        headers={"Content-Type": "application/json"},
    )
    error(response, 400, "invalid_input")


def test_duplicate_keys_are_400_at_18(sandbox):
    bob = Api(sandbox, "bob")
    threat_type = json.dumps(threat_body(bob.legacy)["threat_type"])
    raw = f'{{"name": "a", "name": "b", "threat_type": {threat_type}}}'
    response = bob.http.post(f"{BASE}/threats", content=raw, headers={"Content-Type": "application/json"})
    if bob.legacy:  # 0.217 decodes with the last value winning
        assert response.status_code == 201 and response.json()["name"] == "b"
    else:
        error(response, 400, "invalid_input")


def test_body_must_be_json_of_the_right_type(sandbox):
    bob = Api(sandbox, "bob")
    code = "invalid_input" if bob.legacy else "invalid_id"  # the real 1.8.22's threat validator says invalid_id
    error(bob.post(f"{BASE}/threats", ["not", "an", "object"]), 400, code)
    error(bob.post(f"{BASE}/threats", threat_body(bob.legacy, score=11)), 400, code)
    error(bob.post(f"{BASE}/threats", threat_body(bob.legacy, diagram_id="not-a-uuid")), 400, code)
    error(bob.patch(BASE, {"op": "replace"}), 400, "invalid_input")  # a JSON Patch must be an array


def test_query_parameters_are_typed(sandbox):
    alice = Api(sandbox, "alice")
    error(alice.get(f"{BASE}/threats", params={"score_gt": "high"}), 400, "invalid_input")
    error(alice.get(f"{BASE}/threats", params={"offset": -5}), 400, "invalid_input")
    unknown = alice.get(f"{BASE}/threats", params={"colour": "blue"})  # unknown parameters are ignored
    assert unknown.status_code == 200


def test_query_normalisation_at_18(sandbox):
    alice = Api(sandbox, "alice")
    stored = sandbox.state.threat_models[tm_id()]["threats"]
    if alice.legacy:  # values match verbatim only
        wanted = stored[0]["severity"]
        found = items(alice.get(f"{BASE}/threats", params={"severity": wanted}), "threats", True)
        assert found and all(t["severity"] == wanted for t in found)
        return
    wanted = stored[0]["severity"]
    shouted = items(alice.get(f"{BASE}/threats", params={"severity": wanted.upper()}), "threats", False)
    assert {t["id"] for t in shouted} == {t["id"] for t in stored if t["severity"] == wanted}


def test_body_normalisation_reaches_nested_keys_at_18(sandbox):
    alice = Api(sandbox, "alice")
    entry = {
        "principal_type": "User",
        "provider": alice.user.provider,
        "provider_id": "bob" if not alice.legacy else "bob@test.tmi",
        "role": "Writer",
    }
    response = alice.post("/threat_models", {"name": "Normalised", "authorization": [entry]})
    if alice.legacy:  # no normaliser; the spec's enum rejects "User"
        error(response, 400, "invalid_input")
        return
    assert response.status_code == 201, response.text[:300]
    bob_entry = next(e for e in response.json()["authorization"] if e["provider_id"] == "bob")
    assert (bob_entry["principal_type"], bob_entry["role"]) == ("user", "writer")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("High", "high"),
        ("In Progress", "in_progress"),
        ("inProgress", "in_progress"),
        ("security-boundary", "security-boundary"),
    ],
)
def test_normalise_value(raw, expected):
    assert normalise.value(raw) == expected


def test_normalise_body_leaves_patch_values_alone():
    document = [{"op": "Replace", "path": "/severity", "value": "High"}]
    assert normalise.body(document) == [{"op": "replace", "path": "/severity", "value": "High"}]


@pytest.mark.parametrize("generation", ["1.8", "0.217"])
def test_merged_all_of_accepts_a_valid_diagram_put(generation):
    the_spec = spec.load(generation)
    schema = the_spec.body_schema("/threat_models/{threat_model_id}/diagrams/{diagram_id}", "PUT", "application/json")
    edge = "edge" if generation == "0.217" else "flow"
    node_id, other = "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "6ba7b811-9dad-11d1-80b4-00c04fd430c8"
    cells = [
        {"id": node_id, "shape": "actor", "x": 1, "y": 2, "width": 80, "height": 40},
        {"id": other, "shape": edge, "source": {"cell": node_id}, "target": {"cell": node_id}},
    ]
    assert the_spec.schema_errors(schema, {"name": "d", "type": "DFD-1.0.0", "cells": cells}) == []
    assert the_spec.schema_errors(schema, {"name": "d", "type": "DFD-1.0.0"})  # cells are required
    assert the_spec.schema_errors({"type": "number", "multipleOf": 0.1}, 9.1) == []


@pytest.mark.parametrize("collection", [None, "threats", "diagrams", "documents", "assets", "notes", "repositories"])
def test_patch_with_an_empty_body_is_a_json_400(sandbox, collection):
    """Seen on the real 1.8.22 (PROTOCOL.md 12.3); it was a 500 in plain text."""
    bob = Api(sandbox, "bob")
    path = BASE
    if collection is not None:
        child = sandbox.state.threat_models[tm_id()][collection][0]
        path = f"{BASE}/{collection}/{child['id']}"
    for headers in ({}, {"Content-Type": "application/json-patch+json"}):
        text = error(bob.http.patch(path, content=b"", headers=headers), 400, "invalid_input")
        assert text == ("Request body is empty" if collection is None else MISSING)


@pytest.mark.parametrize("character", ["\u200b", "\u202e"])
def test_zero_width_and_bidi_characters_are_refused_at_18(sandbox_factory, character):
    server = sandbox_factory("1.8")
    bob = Api(server, "bob")
    before = len(server.state.threat_models[tm_id()]["threats"])
    for body in (
        json.dumps(threat_body(False, name=f"Spoof{character}ing")),  # escaped: \\u200b
        json.dumps(threat_body(False, name=f"Spoof{character}ing"), ensure_ascii=False),
    ):
        raw = body.encode("utf-8")
        response = bob.http.post(f"{BASE}/threats", content=raw, headers={"Content-Type": "application/json"})
        error(response, 400, "invalid_request")
        anonymous = httpx.post(
            f"{server.base_url}{BASE}/threats", content=raw, headers={"Content-Type": "application/json"}
        )
        error(anonymous, 400, "invalid_request")  # the Unicode check runs before authentication
    error(bob.post("/threat_models", {"name": f"Payments{character}"}), 400, "invalid_request")
    assert len(server.state.threat_models[tm_id()]["threats"]) == before
    accented = bob.post(f"{BASE}/threats", threat_body(False, name="Zürich — 東京 👩‍💻"))
    assert accented.status_code == 201 and accented.json()["name"] == "Zürich — 東京 👩‍💻"
