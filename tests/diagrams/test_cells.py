import math

from portal.diagrams.cells import Edge, Node, normalise_cell, normalise_cells, number
from tests.diagrams.conftest import flat_node, flow, node


def test_position_size_node_reads_geometry_label_and_style():
    cell = node("process", "p1", 10, 20, 120, 60, "Web App", angle=15, zIndex=3, parent="b1", children=["x"])
    cell["attrs"]["body"]["strokeDasharray"] = "4 2"
    parsed = normalise_cell(cell)
    assert isinstance(parsed, Node)
    assert (parsed.kind, parsed.x, parsed.y, parsed.width, parsed.height) == ("process", 10, 20, 120, 60)
    assert (parsed.label, parsed.angle, parsed.z, parsed.parent, parsed.children) == ("Web App", 15, 3, "b1", ("x",))
    assert (parsed.style.fill, parsed.style.stroke, parsed.style.stroke_width) == ("#FFFFFF", "#000000", 2)
    assert (parsed.style.dasharray, parsed.style.font_size) == ("4 2", 12)


def test_flat_node_reads_top_level_geometry_and_label():
    parsed = normalise_cell(flat_node("store", "s1", "5", 6.5, 100, "40", "Orders"))
    assert isinstance(parsed, Node)
    assert (parsed.kind, parsed.x, parsed.y, parsed.width, parsed.height, parsed.label) == (
        "store",
        5,
        6.5,
        100,
        40,
        "Orders",
    )


def test_attrs_text_wins_over_flat_label_and_numbers_become_text():
    cell = {**node("actor", "a", 0, 0, 80, 40, "From attrs"), "label": "flat"}
    assert normalise_cell(cell).label == "From attrs"
    assert normalise_cell(flat_node("actor", "a", 0, 0, 80, 40, 42)).label == "42"


def test_every_node_kind_and_unknown_shapes():
    kinds = {
        shape: normalise_cell(node(shape, shape, 0, 0, 50, 50)).kind
        for shape in ("actor", "process", "store", "security-boundary", "text-box", "hexagon")
    }
    assert kinds == {
        "actor": "actor",
        "process": "process",
        "store": "store",
        "security-boundary": "boundary",
        "text-box": "text",
        "hexagon": "unknown",
    }


def test_missing_size_gets_a_default_and_missing_position_is_not_drawable():
    sized = normalise_cell({"id": "a", "shape": "actor", "position": {"x": 1, "y": 2}})
    assert (sized.width, sized.height) == (120, 60)
    assert normalise_cell({"id": "a", "shape": "actor", "size": {"width": 10, "height": 10}}) is None


def test_numbers_are_clamped_and_junk_rejected():
    assert number("12.5") == 12.5
    assert number(float("nan"), 7) == 7
    assert number(float("inf")) == 100_000
    assert number(-(10**400)) == -100_000
    assert number(True, 3) == 3
    assert number("1e999") == 100_000
    assert number("abc", None) is None
    assert number([1], 0) == 0


def test_edges_of_both_generations_with_ports_points_vertices_and_labels():
    new = normalise_cell(
        {
            **flow("e1", "a", "b", "HTTPS"),
            "source": {"cell": "a", "port": "p1"},
            "vertices": [{"x": 1, "y": 2}, {"x": "3", "y": 4}, {"x": None}],
        }
    )
    old = normalise_cell(
        {
            "id": "e2",
            "shape": "edge",
            "source": {"x": 5, "y": 6},
            "target": "b",
            "labels": ["plain", {"attrs": {"text": {"text": "far"}}, "position": {"distance": 40, "offset": 10}}],
        }
    )
    assert isinstance(new, Edge) and isinstance(old, Edge)
    assert (new.source.cell, new.source.port, new.target.cell) == ("a", "p1", "b")
    assert new.vertices == ((1, 2), (3, 4))
    assert [(label.text, label.distance) for label in new.labels] == [("HTTPS", 0.5)]
    assert (old.source.point, old.target.cell) == ((5, 6), "b")
    assert [(label.text, label.distance, label.offset) for label in old.labels] == [("plain", 0.5, 0), ("far", 40, 10)]


def test_flat_edge_label_and_edge_without_shape():
    parsed = normalise_cell({"id": "e", "source": {"cell": "a"}, "target": {"cell": "b"}, "label": "Flat"})
    assert isinstance(parsed, Edge) and [label.text for label in parsed.labels] == ["Flat"]


def test_default_label_fills_in_for_edges_without_labels():
    lone = normalise_cell({**flow("e", "a", "b"), "defaultLabel": {"attrs": {"text": {"text": "Default"}}}})
    own = normalise_cell({**flow("e", "a", "b", "Own"), "defaultLabel": {"attrs": {"text": {"text": "Default"}}}})
    assert [label.text for label in lone.labels] == ["Default"] and [label.text for label in own.labels] == ["Own"]


def test_x6_label_selector_is_read_for_edge_labels():
    parsed = normalise_cell(
        {
            **flow("e", "a", "b"),
            "labels": [{"attrs": {"label": {"text": "X6 default"}}}, {"attrs": {"text": {"text": "  "}}}, None, 7],
        }
    )
    assert [(label.text, label.distance) for label in parsed.labels] == [("X6 default", 0.5)]


def test_markers_default_to_an_arrow_at_the_target_only():
    def markers(line):
        edge = normalise_cell({**flow("e", "a", "b"), "attrs": {"line": line}})
        return edge.source_marker, edge.target_marker

    assert markers({}) == ("", "arrow")
    assert markers({"sourceMarker": "block", "targetMarker": {"name": "classic"}}) == ("arrow", "arrow")
    assert markers({"sourceMarker": {"name": "diamond"}, "targetMarker": "circle"}) == ("diamond", "circle")
    assert markers({"targetMarker": None}) == ("", "")
    assert markers({"targetMarker": ""}) == ("", "")
    assert markers({"targetMarker": {"tagName": "path", "d": "M0 0"}}) == ("", "arrow")
    assert markers({"targetMarker": 5}) == ("", "")


def test_edge_without_usable_ends_is_dropped():
    assert normalise_cell({"id": "e", "shape": "flow", "source": {"cell": "a"}}) is None
    assert normalise_cell({"id": "e", "shape": "flow", "source": 5, "target": {"cell": "b"}}) is None


def test_visibility_z_and_ports():
    parsed = normalise_cell(
        node(
            "process",
            "p",
            0,
            0,
            50,
            50,
            visible=False,
            zIndex="7",
            ports={"items": [{"id": "p1", "group": "top"}, {"id": 3}, "junk"]},
        )
    )
    assert (parsed.visible, parsed.z, parsed.ports) == (False, 7, {"p1": "top"})


def test_normalise_cells_skips_junk_names_missing_ids_and_keeps_last_duplicate():
    cells = normalise_cells(
        [
            None,
            5,
            "x",
            {"shape": "actor", "x": 0, "y": 0},
            node("actor", "dup", 0, 0, 50, 50, "first"),
            node("actor", "dup", 0, 0, 50, 50, "second"),
        ]
    )
    assert [c.id for c in cells] == ["cell-3", "dup"]
    assert cells[1].label == "second"
    assert normalise_cells("not a list") == []


def test_objects_with_a_raw_dict_are_accepted():
    class Wrapped:
        raw = node("store", "s", 0, 0, 60, 40, "DB")

    assert normalise_cell(Wrapped()).label == "DB"


def test_center():
    assert normalise_cell(node("actor", "a", 10, 20, 100, 40)).center == (60, 40)
    assert math.isfinite(normalise_cell(node("actor", "a", 1e300, -1e300, 1e300, 40)).x)
