"""The demo seed: deterministic, realistic, in each generation's native shape."""

from __future__ import annotations

import time

import httpx
import pytest

from portal.sandbox import builtin_idp, seed
from portal.sandbox.config import GENERATIONS, SandboxConfig
from portal.sandbox.rest import spec
from portal.sandbox.state import SandboxState
from tests.sandbox.helpers import login

NODE_SHAPES = {"actor", "process", "store", "security-boundary", "text-box"}
ITEM = "/threat_models/{threat_model_id}"


def seeded(generation: str, name: str = "demo") -> SandboxState:
    state = SandboxState(SandboxConfig(generation=generation))
    seed.load(state, name)
    return state


@pytest.fixture(params=GENERATIONS, ids=lambda g: f"tmi-{g}")
def world(request) -> SandboxState:
    return seeded(request.param)


def _diagrams(state: SandboxState):
    return [d for tm in state.threat_models.values() for d in tm["diagrams"]]


def test_two_seeds_are_identical(generation):
    first, second = seeded(generation), seeded(generation)
    assert first.threat_models == second.threat_models
    assert first.versions == second.versions


def test_two_sandboxes_serve_identical_data(sandbox_factory, generation):
    bodies = []
    for _ in range(2):
        server = sandbox_factory(generation)
        token = server.state.issue_tokens(seed.ensure_user(server.state, "alice"))["access_token"]
        with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}) as client:
            listed = client.get("/threat_models", params={"limit": 100}).json()
            full = [client.get(f"/threat_models/{seed.sid('tm', m[0])}").json() for m in seed.MODELS[:3]]
        bodies.append((listed, full))
    assert bodies[0] == bodies[1]


def test_users_are_the_test_idp_identities(world):
    for hint in seed.USERS:
        identity = builtin_idp.identity_for(world.config, hint)
        user = seed.ensure_user(world, hint)
        assert (user.provider, user.provider_id, user.email, user.display_name) == (
            identity.provider,
            identity.provider_id,
            identity.email,
            identity.display_name,
        )
    assert len(world.users) == len(seed.USERS)


def test_signing_in_finds_the_seeded_user(sandbox):
    token = login(sandbox.base_url, "carol")["access_token"]
    response = httpx.get(
        sandbox.base_url + "/threat_models", params={"limit": 100}, headers={"Authorization": f"Bearer {token}"}
    )
    body = response.json()
    names = {m["name"] for m in (body if isinstance(body, list) else body["threat_models"])}
    assert "IoT Telemetry Ingest" in names and "Partner Webhooks Service" not in names


def test_every_user_has_every_role_somewhere(world):
    for hint in seed.USERS:
        user = seed.ensure_user(world, hint)
        roles = {world.role_of(user, tm) for tm in world.threat_models.values()}
        assert roles == {"reader", "writer", "owner", None}, hint


def test_models_are_varied(world):
    models = list(world.threat_models.values())
    assert len(models) == len(seed.MODELS) == 12
    assert len({m["status"] for m in models}) == 5
    owners = {m["owner"]["email"] for m in models}
    assert len(owners) == 4
    for tm in models:
        assert 1 <= len(tm["diagrams"]) <= 3
        assert tm["threats"] and tm["documents"] and tm["assets"] and tm["notes"] and tm["repositories"]
        assert tm["metadata"]


def test_threats_cover_every_severity(world):
    threats = [t for tm in world.threat_models.values() for t in tm["threats"]]
    assert len(threats) >= 36
    expected = seed.SEVERITIES_0217 if world.config.is_legacy else seed.SEVERITIES_18
    assert {t["severity"] for t in threats} == set(expected)
    assert any(t["mitigated"] for t in threats) and any(not t["mitigated"] for t in threats)
    assert all(t["mitigation"] for t in threats)
    kind = str if world.config.is_legacy else list
    assert all(isinstance(t["threat_type"], kind) for t in threats)


def test_seeded_objects_pass_the_generations_own_schemas(world):
    the_spec = spec.load(world.config.generation)
    diagram_put = the_spec.body_schema(ITEM + "/diagrams/{diagram_id}", "PUT", "application/json")
    threat_put = the_spec.body_schema(ITEM + "/threats/{threat_id}", "PUT", "application/json")
    writable = set(the_spec.resolve(threat_put)["properties"])
    for tm in world.threat_models.values():
        for diagram in tm["diagrams"]:
            body = {k: diagram[k] for k in ("name", "type", "cells", "description")}
            assert the_spec.schema_errors(diagram_put, body) == [], diagram["name"]
        for threat in tm["threats"]:
            assert the_spec.schema_errors(threat_put, {k: v for k, v in threat.items() if k in writable}) == []


def test_diagrams_are_real_dfds(world):
    edge_shape, other = ("edge", "flow") if world.config.is_legacy else ("flow", "edge")
    shapes_seen = set()
    for diagram in _diagrams(world):
        cells = {c["id"]: c for c in diagram["cells"]}
        assert len(cells) == len(diagram["cells"]) >= 20
        nodes = [c for c in cells.values() if c["shape"] in NODE_SHAPES]
        edges = [c for c in cells.values() if c["shape"] not in NODE_SHAPES]
        shapes_seen |= {c["shape"] for c in cells.values()}
        assert edges and all(e["shape"] == edge_shape for e in edges)
        for edge in edges:
            assert edge["source"]["cell"] in cells and edge["target"]["cell"] in cells
            assert edge["labels"][0]["attrs"]["text"]["text"]
        assert all(n["attrs"]["text"]["text"] for n in nodes)
        _assert_boundaries_contain_their_nodes(world, cells, nodes)
        _assert_no_overlaps([n for n in nodes if n["shape"] != "security-boundary"])
    assert shapes_seen == NODE_SHAPES | {edge_shape}
    assert other not in shapes_seen


def _box(cell):
    x, y = cell["position"]["x"], cell["position"]["y"]
    return x, y, x + cell["size"]["width"], y + cell["size"]["height"]


def _assert_boundaries_contain_their_nodes(world, cells, nodes):
    inside = [n for n in nodes if n.get("parent")]
    assert inside
    for node in inside:
        boundary = cells[node["parent"]]
        assert boundary["shape"] == "security-boundary"
        bx1, by1, bx2, by2 = _box(boundary)
        x1, y1, x2, y2 = _box(node)
        assert bx1 <= x1 and by1 <= y1 and x2 <= bx2 and y2 <= by2
        if not world.config.is_legacy:
            assert node["id"] in boundary["children"]


def _assert_no_overlaps(nodes):
    boxes = [_box(n) for n in nodes]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)


def test_a_note_carries_html_that_the_portal_must_escape(world):
    contents = [n["content"] for tm in world.threat_models.values() for n in tm["notes"]]
    assert any("<script>" in c and "onerror" in c for c in contents)


def test_bulk_seed_is_quick(generation):
    started = time.perf_counter()
    state = seeded(generation, "bulk:1000")
    assert time.perf_counter() - started < 20
    assert len(state.threat_models) == 1000
    alice = seed.ensure_user(state, "alice")
    assert all(state.role_of(alice, tm) for tm in state.threat_models.values())
    assert len({tm["id"] for tm in state.threat_models.values()}) == 1000


def test_unknown_seed_name_is_refused():
    with pytest.raises(ValueError):
        seeded("1.8", "everything")


def test_flows_join_neighbours_and_cross_no_node(world):
    """Every seeded flow is a straight line between facing ports that passes through no other node, and
    side-by-side nodes share a centre line, so a seeded DFD reads like one a person drew."""
    for diagram in _diagrams(world):
        cells = {c["id"]: c for c in diagram["cells"]}
        nodes = [c for c in cells.values() if c["shape"] in NODE_SHAPES - {"security-boundary"}]
        flows = [c for c in cells.values() if c["shape"] not in NODE_SHAPES]
        assert len(flows) >= 8
        for flow in flows:
            source, target = cells[flow["source"]["cell"]], cells[flow["target"]["cell"]]
            a = seed.port_point(source, flow["source"]["port"])
            b = seed.port_point(target, flow["target"]["port"])
            assert a[0] == b[0] or a[1] == b[1], (diagram["name"], flow["id"])  # straight across or down
            others = [n for n in nodes if n is not source and n is not target]
            assert not any(seed.segment_hits_box(a, b, _box(n)) for n in others), (diagram["name"], flow["id"])
            # The ports face each other: leaving to the right means entering from the left, and so on.
            assert {flow["source"]["port"], flow["target"]["port"]} in ({"left", "right"}, {"top", "bottom"})
        assert len({(f["source"]["cell"], f["target"]["cell"]) for f in flows}) == len(flows)


def test_segment_hits_box():
    box = (10, 10, 20, 20)
    assert seed.segment_hits_box((0, 15), (30, 15), box)
    assert not seed.segment_hits_box((0, 5), (30, 5), box)
    assert not seed.segment_hits_box((0, 15), (10, 15), box)  # touching the edge is not crossing
    assert seed.segment_hits_box((0, 0), (30, 30), box)
