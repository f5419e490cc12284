from pydantic import TypeAdapter

from portal.tmi.cells import Cell, Edge, Node, cells_to_wire

NODE = {
    "id": "n1",
    "shape": "process",
    "position": {"x": 100, "y": 80},
    "size": {"width": 120, "height": 60},
    "attrs": {"text": {"text": "Web App"}},
    "zIndex": 3,
    "data": {"_metadata": []},
}
EDGE_18 = {
    "id": "e1",
    "shape": "flow",
    "source": {"cell": "n1", "port": "p1"},
    "target": {"cell": "n2"},
    "labels": [{"attrs": {"text": {"text": "HTTPS"}}, "position": 0.5}],
    "vertices": [{"x": 1, "y": 2}],
}
cells = TypeAdapter(list[Cell])


def test_node_reads_position_size_and_label_and_keeps_raw():
    node = cells.validate_python([NODE])[0]
    assert isinstance(node, Node)
    assert (node.x, node.y, node.width, node.height, node.label) == (100, 80, 120, 60, "Web App")
    assert node.raw == NODE  # unknown keys (zIndex, data) survive verbatim


def test_edge_reads_endpoints_and_label():
    edge = cells.validate_python([EDGE_18])[0]
    assert isinstance(edge, Edge)
    assert (edge.source_id, edge.source_port, edge.target_id, edge.target_port) == ("n1", "p1", "n2", None)
    assert edge.label == "HTTPS"


def test_edge_is_recognised_by_endpoints_even_with_an_unknown_shape():
    edge = cells.validate_python([{"id": "e", "shape": "custom", "source": "a", "target": "b"}])[0]
    assert isinstance(edge, Edge) and edge.source_id == "a"


def test_cells_go_out_with_the_target_generations_edge_shape():
    parsed = cells.validate_python([NODE, EDGE_18])
    legacy = cells_to_wire(parsed, edge_shape="edge")
    assert legacy[0] == NODE and legacy[1] == {**EDGE_18, "shape": "edge"}
    as_dicts = cells_to_wire([NODE, {**EDGE_18, "shape": "edge"}], edge_shape="flow")
    assert as_dicts[1]["shape"] == "flow" and as_dicts[0] == NODE
