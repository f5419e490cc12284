"""Diagram rules on top of the generic child ones (PROTOCOL.md 5.4, 9.3), both generations."""

from __future__ import annotations

from portal.sandbox import seed
from tests.sandbox.rest_world import Api, error, first_child, tm_id

BASE = f"/threat_models/{tm_id()}/diagrams"


def _node(name: str, **geometry) -> dict:
    return {"id": seed.sid("test-cell", name), "shape": "process", "attrs": {"text": {"text": name}}, **geometry}


def _edge(legacy: bool, source: str, target: str) -> dict:
    return {
        "id": seed.sid("test-edge", source, target),
        "shape": "edge" if legacy else "flow",
        "source": {"cell": seed.sid("test-cell", source)},
        "target": {"cell": seed.sid("test-cell", target)},
    }


def test_create_is_strict(sandbox):
    bob = Api(sandbox, "bob")
    response = bob.post(BASE, {"name": "Context", "type": "DFD-1.0.0"})
    assert response.status_code == 201
    diagram = response.json()
    assert response.headers["location"] == f"/threat_models/{tm_id()}/diagrams/{diagram['id']}"
    assert (diagram["cells"], diagram["update_vector"], diagram["image"]) == ([], 0, {})
    error(bob.post(BASE, {"name": "Context", "type": "DFD-1.0.0", "description": "no"}), 400, "invalid_input")
    error(bob.post(BASE, {"name": "Context", "type": "DFD-1.0.0", "cells": []}), 400, "invalid_input")
    error(bob.post(BASE, {"name": "Context"}), 400, "invalid_input")
    error(bob.post(BASE, {"name": "Context", "type": "BPMN"}), 400, "invalid_input")


def _write_cells(api: Api, path: str, name: str, cells: list) -> object:
    """Cells in by PUT at 1.8; by JSON Patch at 0.217, which refuses a PUT with cells (PROTOCOL.md 12b.6)."""
    if api.legacy:
        return api.patch(
            path,
            [{"op": "replace", "path": "/name", "value": name}, {"op": "replace", "path": "/cells", "value": cells}],
        )
    return api.put(path, {"name": name, "type": "DFD-1.0.0", "cells": cells})


def test_put_requires_cells_and_stores_them_as_the_generation_does(sandbox):
    bob = Api(sandbox, "bob")
    diagram = bob.post(BASE, {"name": "Context", "type": "DFD-1.0.0"}).json()
    path = f"{BASE}/{diagram['id']}"
    error(bob.put(path, {"name": "Context", "type": "DFD-1.0.0"}), 400, "invalid_input")
    cells = [
        _node("web", x=100, y=80, width=120, height=60, zIndex=4),
        _node("db", position={"x": 400, "y": 80}, size={"width": 120, "height": 60}),
        _edge(bob.legacy, "web", "db"),
    ]
    put = _write_cells(bob, path, "Context", cells)
    assert put.status_code == 200, put.text[:300]
    web, db, edge = put.json()["cells"]
    if bob.legacy:  # 0.217: flat geometry nested, the rest verbatim
        assert web["position"] == {"x": 100, "y": 80} and web["size"] == {"width": 120, "height": 60}
        assert "x" not in web and web["zIndex"] == 4
        assert db == cells[1] and edge == cells[2]
    else:  # the real 1.8.22: flat, with the schema's defaults; keys its Node type lacks are dropped
        defaults = {"angle": 0, "parent": None, "data": {"_metadata": [], "security_boundary": False}}
        assert web == {**{k: v for k, v in cells[0].items() if k != "zIndex"}, **defaults}
        assert db == {
            "id": cells[1]["id"], "shape": "process", "attrs": cells[1]["attrs"],
            "x": 400, "y": 80, "width": 120, "height": 60, **defaults,
        }  # fmt: skip
        assert edge == {**cells[2], "data": defaults["data"]}
        assert bob.get(path).json()["cells"] == [web, db, edge]
    assert put.json()["update_vector"] == 1
    same = _write_cells(bob, path, "Renamed", put.json()["cells"])
    assert same.json()["name"] == "Renamed" and same.json()["update_vector"] == 2  # every write counts
    assert same.json()["cells"] == put.json()["cells"]
    patched = bob.patch(path, [{"op": "remove", "path": "/cells/2"}])
    assert patched.status_code == 200 and patched.json()["update_vector"] == 3
    renamed = bob.patch(path, [{"op": "replace", "path": "/name", "value": "Again"}])
    assert renamed.json()["update_vector"] == 4  # a rename alone too (1.8.22 and 0.217.8)
    bad_edge = [_edge(not bob.legacy, "web", "db")]  # the other generation's edge shape
    error(bob.put(path, {"name": "Context", "type": "DFD-1.0.0", "cells": bad_edge}), 400, "invalid_input")


def test_1_8_put_keeps_nested_geometry_when_the_data_has_no_metadata(sandbox_factory):
    """The real 1.8.22 re-encodes (flattens) only a node whose data carries `_metadata`; a JSON Patch gets
    no schema defaults, so a node added by PATCH stays as sent."""
    bob = Api(sandbox_factory("1.8"), "bob")
    path = f"{BASE}/{bob.post(BASE, {'name': 'Context', 'type': 'DFD-1.0.0'}).json()['id']}"
    nested = _node("db", position={"x": 5, "y": 6}, size={"width": 70, "height": 80}, data={"foo": 1}, zIndex=3)
    put = bob.put(path, {"name": "Context", "type": "DFD-1.0.0", "cells": [nested]})
    assert put.json()["cells"] == [{**nested, "angle": 0, "data": {"foo": 1, "security_boundary": False}}]
    added = _node("web", position={"x": 7, "y": 8}, size={"width": 90, "height": 50})
    patched = bob.patch(path, [{"op": "add", "path": "/cells/-", "value": added}])
    assert patched.json()["cells"][-1] == added and bob.get(path).json()["cells"][-1] == added


def test_image_vector_defaults_to_the_diagram_vector(sandbox):
    bob = Api(sandbox, "bob")
    diagram = first_child(sandbox, "diagrams")
    path = f"{BASE}/{diagram['id']}"
    image = {"svg": "PHN2Zz48L3N2Zz4="}
    vector = bob.get(path).json()["update_vector"]
    if bob.legacy:
        response = bob.patch(path, [{"op": "add", "path": "/image", "value": image}])
    else:
        response = bob.put(
            path, {"name": diagram["name"], "type": "DFD-1.0.0", "cells": diagram["cells"], "image": image}
        )
    assert response.status_code == 200, response.text[:300]
    # the write itself moves the diagram's vector on, and the image takes the new one
    assert response.json()["update_vector"] == vector + 1
    # (1.8.22's PUT answer leaves `image` out: read it back)
    assert bob.get(path).json()["image"] == {"svg": "PHN2Zz48L3N2Zz4=", "update_vector": vector + 1}


def test_a_put_with_cells_is_refused_at_0217(sandbox):
    """Seen on the real 0.217.8 (PROTOCOL.md 12b.6): a diagram PUT that carries cells is 400 "cells is
    unsupported", and nothing changes; cells go in by JSON Patch. 1.8 takes the same PUT."""
    bob = Api(sandbox, "bob")
    diagram = first_child(sandbox, "diagrams")
    path = f"{BASE}/{diagram['id']}"
    before = bob.get(path).json()
    cells = [_node("web", position={"x": 10, "y": 20}, size={"width": 120, "height": 60})]
    put = bob.put(path, {"name": "Renamed by PUT", "type": "DFD-1.0.0", "cells": cells})
    if not bob.legacy:  # stored flat, as the real 1.8.22 does (test_put_requires_cells_and_stores_them_...)
        assert put.status_code == 200 and put.json()["cells"][0]["x"] == 10 and put.json()["name"] == "Renamed by PUT"
        return
    assert error(put, 400, "invalid_input") == "cells is unsupported"
    assert bob.get(path).json() == before
    error(bob.put(path, {"name": "Renamed by PUT", "type": "DFD-1.0.0"}), 400, "invalid_input")  # its spec needs cells
    patched = bob.patch(path, [{"op": "replace", "path": "/cells", "value": cells}])
    assert patched.status_code == 200 and patched.json()["cells"] == cells


def test_no_rest_writes_during_a_collaboration_session(sandbox):
    alice = Api(sandbox, "alice")
    diagram = first_child(sandbox, "diagrams")
    path = f"{BASE}/{diagram['id']}"
    sandbox.state.sessions[diagram["id"]] = object()
    body = {"name": "x", "type": "DFD-1.0.0", "cells": []}
    modify = "Cannot modify diagram while collaboration session is active. Please end the collaboration session first."
    assert error(alice.put(path, body), 409, "conflict") == modify
    assert error(alice.patch(path, [{"op": "replace", "path": "/name", "value": "x"}]), 409, "conflict") == modify
    assert error(alice.delete(path), 409, "conflict").startswith("Cannot delete diagram while collaboration session")
    assert alice.get(path).status_code == 200  # reads are fine
    del sandbox.state.sessions[diagram["id"]]
    assert alice.delete(path).status_code == 204


def test_full_diagram_fields_per_generation(sandbox):
    carol = Api(sandbox, "carol")
    diagram = carol.get(f"{BASE}/{first_child(sandbox, 'diagrams')['id']}").json()
    assert {"id", "name", "type", "cells", "update_vector", "image", "created_at", "modified_at"} <= set(diagram)
    shapes = {c["shape"] for c in diagram["cells"]}
    if carol.legacy:
        assert "edge" in shapes and "flow" not in shapes and "alias" not in diagram
        assert all("children" not in c for c in diagram["cells"])
    else:
        assert "flow" in shapes and "edge" not in shapes
        assert diagram["include_in_report"] is True and isinstance(diagram["alias"], int)


def test_put_stores_partial_flat_geometry_as_sent(sandbox_factory):
    """Seen on the real 1.8.22 (PROTOCOL.md 12.8): a node without its whole geometry is not re-encoded; it
    keeps what it was sent, with the schema's defaults (angle 0, data) added."""
    bob = Api(sandbox_factory("1.8"), "bob")
    diagram = bob.post(BASE, {"name": "Context", "type": "DFD-1.0.0"}).json()
    path = f"{BASE}/{diagram['id']}"
    partial = _node("web", x=100, y=80, width=120)
    put = bob.put(path, {"name": "Context", "type": "DFD-1.0.0", "cells": [partial]})
    assert put.status_code == 200, put.text[:300]
    stored = {**partial, "angle": 0, "data": {"_metadata": [], "security_boundary": False}}
    assert put.json()["cells"] == [stored]
    assert bob.get(path).json()["cells"] == [stored]
