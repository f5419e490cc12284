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


def test_put_requires_cells_and_nests_flat_geometry(sandbox):
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
    web = put.json()["cells"][0]
    assert web["position"] == {"x": 100, "y": 80} and web["size"] == {"width": 120, "height": 60}
    assert "x" not in web and web["zIndex"] == 4  # other keys are kept verbatim
    assert put.json()["update_vector"] == 1
    same = _write_cells(bob, path, "Renamed", put.json()["cells"])
    assert same.json()["name"] == "Renamed" and same.json()["update_vector"] == 1  # cells unchanged: no bump
    patched = bob.patch(path, [{"op": "remove", "path": "/cells/2"}])
    assert patched.status_code == 200 and patched.json()["update_vector"] == 2
    bad_edge = [_edge(not bob.legacy, "web", "db")]  # the other generation's edge shape
    error(bob.put(path, {"name": "Context", "type": "DFD-1.0.0", "cells": bad_edge}), 400, "invalid_input")


def test_image_vector_defaults_to_the_diagram_vector(sandbox):
    bob = Api(sandbox, "bob")
    diagram = first_child(sandbox, "diagrams")
    path = f"{BASE}/{diagram['id']}"
    image = {"svg": "PHN2Zz48L3N2Zz4="}
    if bob.legacy:
        response = bob.patch(path, [{"op": "add", "path": "/image", "value": image}])
    else:
        response = bob.put(
            path, {"name": diagram["name"], "type": "DFD-1.0.0", "cells": diagram["cells"], "image": image}
        )
    assert response.status_code == 200, response.text[:300]
    assert response.json()["image"] == {"svg": "PHN2Zz48L3N2Zz4=", "update_vector": diagram["update_vector"]}


def test_a_put_with_cells_is_refused_at_0217(sandbox):
    """Seen on the real 0.217.8 (PROTOCOL.md 12b.6): a diagram PUT that carries cells is 400 "cells is
    unsupported", and nothing changes; cells go in by JSON Patch. 1.8 takes the same PUT."""
    bob = Api(sandbox, "bob")
    diagram = first_child(sandbox, "diagrams")
    path = f"{BASE}/{diagram['id']}"
    before = bob.get(path).json()
    cells = [_node("web", position={"x": 10, "y": 20}, size={"width": 120, "height": 60})]
    put = bob.put(path, {"name": "Renamed by PUT", "type": "DFD-1.0.0", "cells": cells})
    if not bob.legacy:
        assert put.status_code == 200 and put.json()["cells"] == cells
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
    """Seen on the real 1.8.22 (PROTOCOL.md 12.8): only the whole flat form becomes position/size."""
    bob = Api(sandbox_factory("1.8"), "bob")
    diagram = bob.post(BASE, {"name": "Context", "type": "DFD-1.0.0"}).json()
    path = f"{BASE}/{diagram['id']}"
    partial = _node("web", x=100, y=80, width=120)
    put = bob.put(path, {"name": "Context", "type": "DFD-1.0.0", "cells": [partial]})
    assert put.status_code == 200, put.text[:300]
    assert put.json()["cells"] == [partial]
    assert bob.get(path).json()["cells"] == [partial]
