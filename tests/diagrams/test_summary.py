from portal.diagrams import diagram_summary
from portal.diagrams.summary import describe
from tests.diagrams.conftest import flat_node, flow, node


def test_counts_by_kind_and_description(web_app):
    summary = diagram_summary(web_app)
    assert summary["counts"] == {
        "actors": 2,
        "processes": 3,
        "stores": 2,
        "boundaries": 2,
        "flows": 9,
        "text_boxes": 1,
        "other": 0,
    }
    assert summary["description"].startswith("A data flow diagram with 2 actors, 3 processes")


def test_membership_by_geometry(web_app):
    summary = diagram_summary(web_app)
    members = {b["id"]: sorted(m["id"] for m in b["members"]) for b in summary["boundaries"]}
    assert members == {"dmz": ["web"], "internal": ["api", "cache", "db"]}
    assert sorted(n["id"] for n in summary["outside"]) == ["browser", "customer", "psp"]
    assert {"id": "api", "label": "Orders API", "kind": "process"} in summary["boundaries"][1]["members"]


def test_membership_by_parent_and_by_children_list_even_outside_the_frame():
    cells = [
        node("security-boundary", "zone", 0, 0, 100, 100, "Zone", children=["listed"]),
        node("process", "child", 500, 500, 50, 50, parent="zone"),
        node("store", "listed", 700, 700, 50, 50),
        node("actor", "grandchild", 900, 900, 50, 50, parent="child"),
        node("actor", "away", 300, 300, 50, 50),
    ]
    summary = diagram_summary(cells)
    assert sorted(m["id"] for m in summary["boundaries"][0]["members"]) == ["child", "grandchild", "listed"]
    assert [n["id"] for n in summary["outside"]] == ["away"]


def test_nested_boundaries_and_crossing_flows():
    cells = [
        node("security-boundary", "outer", 0, 0, 500, 500, "Corporate"),
        node("security-boundary", "inner", 50, 50, 200, 200, "Secrets"),
        node("process", "app", 300, 300, 80, 50, "App"),
        node("store", "vault", 100, 100, 80, 50, "Vault"),
        node("actor", "user", 700, 100, 80, 50, "User"),
        flow("in", "user", "app", "Request"),
        flow("deep", "app", "vault", "Read secret"),
        flow("free", "app", "nowhere"),
        {"id": "dangling", "shape": "flow", "source": {"cell": "app"}, "target": {"x": 1, "y": 2}},
    ]
    summary = diagram_summary(cells)
    by_id = {b["id"]: b for b in summary["boundaries"]}
    assert by_id["outer"]["nested"] == ["inner"] and by_id["inner"]["nested"] == []
    assert sorted(m["id"] for m in by_id["outer"]["members"]) == ["app", "vault"]
    flows = {f["id"]: f for f in summary["flows"]}
    assert flows["in"] == {"id": "in", "source": "user", "target": "app", "labels": ["Request"], "crosses": ["outer"]}
    assert flows["deep"]["crosses"] == ["inner"]
    assert flows["free"]["target"] is None and flows["free"]["crosses"] == []
    assert flows["dangling"]["crosses"] == []


def test_invisible_cells_text_boxes_and_unknown_shapes():
    cells = [
        node("process", "shown", 0, 0, 50, 50),
        node("process", "gone", 0, 0, 50, 50, visible=False),
        flat_node("text-box", "note", 0, 0, 50, 50, "note"),
        flat_node("cloud", "odd", 0, 0, 50, 50),
    ]
    summary = diagram_summary(cells)
    assert summary["counts"]["processes"] == 1 and summary["counts"]["text_boxes"] == 1
    assert summary["counts"]["other"] == 1
    assert sorted(n["id"] for n in summary["outside"]) == ["odd", "shown"]


def test_parent_cycles_do_not_hang():
    cells = [
        node("security-boundary", "a", 0, 0, 10, 10, parent="b"),
        node("security-boundary", "b", 100, 100, 10, 10, parent="a"),
        node("process", "p", 500, 500, 10, 10, parent="p"),
    ]
    summary = diagram_summary(cells)
    assert {b["id"]: b["nested"] for b in summary["boundaries"]} == {"a": ["b"], "b": ["a"]}


def test_describe_singular_plural_and_empty():
    assert describe({"actors": 1, "flows": 2}) == "A data flow diagram with 1 actor and 2 data flows."
    assert describe({"stores": 1}) == "A data flow diagram with 1 data store."
    assert describe({}) == "An empty data flow diagram."
    assert diagram_summary([])["counts"]["flows"] == 0
