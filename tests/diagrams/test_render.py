import math
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from portal.diagrams import render_svg
from portal.diagrams.cells import normalise_cell
from portal.diagrams.geometry import ELLIPSIS, node_box, store_cap
from tests.diagrams.conftest import NS, cell_groups, classes, flat_node, flow, node, parse

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "diagrams"


def points_of(path_d: str) -> list[tuple[float, float]]:
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path_d)]
    return list(zip(numbers[::2], numbers[1::2]))


def line_of(group):
    return next(p for p in group.iter(f"{NS}path") if "tmi-line" in classes(p))


def view_box(root):
    x, y, w, h = (float(v) for v in root.get("viewBox").split())
    return x, y, w, h


def all_shapes_cells():
    return [
        node("security-boundary", "b", 0, 0, 600, 300, "Trust zone"),
        node("actor", "a", 20, 40, 120, 60, "User"),
        node("process", "p", 200, 40, 120, 60, "App"),
        node("store", "s", 400, 40, 120, 60, "DB"),
        node("text-box", "t", 20, 200, 120, 40, "A note"),
        node("hexagon", "h", 200, 200, 120, 60, "Mystery"),
        flow("f", "a", "p", "Login"),
        flow("e", "p", "s", "Query", shape="edge"),
    ]


def test_every_node_shape_draws_its_outline_and_label():
    groups = cell_groups(parse(render_svg(all_shapes_cells(), id_prefix="d")))
    tags = {
        cid: [(child.tag.replace(NS, ""), child.get("class")) for child in g.iter() if child is not g]
        for cid, g in groups.items()
    }
    assert ("rect", "tmi-shape") in tags["a"] and ("path", "tmi-glyph") in tags["a"]
    assert ("ellipse", "tmi-shape") in tags["p"]
    assert ("path", "tmi-shape") in tags["s"] and ("path", "tmi-rim") in tags["s"]
    assert ("rect", "tmi-shape") in tags["b"]
    assert not any(cls == "tmi-shape" for _, cls in tags["t"])
    assert ("rect", "tmi-shape") in tags["h"]
    assert {cid: classes(g) for cid, g in groups.items() if cid in "apsbth"} == {
        "a": {"tmi-node", "tmi-actor"},
        "p": {"tmi-node", "tmi-process"},
        "s": {"tmi-node", "tmi-store"},
        "b": {"tmi-node", "tmi-boundary"},
        "t": {"tmi-node", "tmi-text"},
        "h": {"tmi-node", "tmi-unknown"},
    }
    labels = {
        cid: "".join(g.find(f".//{NS}text[@class='tmi-label']").itertext())
        for cid, g in groups.items()
        if cid in "apsbth"
    }
    assert labels == {"a": "User", "p": "App", "s": "DB", "b": "Trust zone", "t": "A note", "h": "Mystery"}


def test_boundary_is_dashed_with_its_label_at_the_top_left():
    group = cell_groups(parse(render_svg(all_shapes_cells(), id_prefix="d")))["b"]
    assert group.find(f"{NS}rect").get("stroke-dasharray")
    label = group.find(f".//{NS}text")
    first = label.find(f"{NS}tspan")
    assert label.get("text-anchor") == "start"
    assert float(first.get("x")) < 30 and float(first.get("y")) < 30


def test_both_edge_shapes_draw_a_path_with_a_namespaced_arrowhead_and_label():
    root = parse(render_svg(all_shapes_cells(), id_prefix="d"))
    groups = cell_groups(root)
    marker_ids = {m.get("id") for m in root.iter(f"{NS}marker")}
    for cid, shape, text in (("f", "flow", "Login"), ("e", "edge", "Query")):
        group = groups[cid]
        assert classes(group) == {"tmi-edge"} and group.get("data-shape") == shape
        line = line_of(group)
        reference = re.fullmatch(r"url\(#(.+)\)", line.get("marker-end")).group(1)
        assert reference in marker_ids and reference.startswith("d-")
        label = group.find(f"{NS}g[@class='tmi-edge-label']")
        assert label.find(f"{NS}rect").get("class") == "tmi-halo"
        assert "".join(label.find(f"{NS}text").itertext()) == text
    assert len(marker_ids) == 1  # both lines share the colour, so one arrowhead definition


def test_source_marker_and_no_target_marker():
    cells = [
        node("actor", "a", 0, 0, 80, 40),
        node("actor", "b", 200, 0, 80, 40),
        {**flow("f", "a", "b"), "attrs": {"line": {"sourceMarker": "classic", "targetMarker": None}}},
    ]
    line = line_of(cell_groups(parse(render_svg(cells, id_prefix="m")))["f"])
    assert line.get("marker-start", "").startswith("url(#m-arrow-start-") and line.get("marker-end") is None


def test_diamond_and_circle_markers_have_their_own_shapes():
    cells = [
        node("actor", "a", 0, 0, 80, 40),
        node("actor", "b", 200, 0, 80, 40),
        {**flow("f", "a", "b"), "attrs": {"line": {"sourceMarker": {"name": "diamond"}, "targetMarker": "circle"}}},
    ]
    root = parse(render_svg(cells, id_prefix="m"))
    line = line_of(cell_groups(root)["f"])
    paths = {m.get("id"): m.find(f"{NS}path").get("d") for m in root.iter(f"{NS}marker")}
    assert paths[line.get("marker-start")[5:-1]].count("L") == 3  # four corners
    assert "A" in paths[line.get("marker-end")[5:-1]]


def test_flat_and_position_size_forms_draw_the_same_geometry():
    canonical = parse(render_svg([node("actor", "a", 10, 20, 130, 70, "Same")], id_prefix="x"))
    flat = parse(render_svg([flat_node("actor", "a", 10, 20, 130, 70, "Same")], id_prefix="x"))
    rect_c, rect_f = (r.find(f".//{NS}rect").attrib for r in (canonical, flat))
    assert {k: rect_c[k] for k in ("x", "y", "width", "height")} == {
        k: rect_f[k] for k in ("x", "y", "width", "height")
    }
    assert canonical.get("viewBox") == flat.get("viewBox")
    assert "".join(flat.find(f".//{NS}text[@class='tmi-label']").itertext()) == "Same"


def test_multi_line_and_long_labels_wrap_and_truncate_with_a_tooltip():
    long_text = "This process handles " + "very " * 60 + "many things"
    cells = [
        node("process", "multi", 0, 0, 160, 90, "Line one\nLine two"),
        node("actor", "long", 200, 0, 120, 60, long_text),
    ]
    groups = cell_groups(parse(render_svg(cells, id_prefix="l")))
    multi_lines = [t.text for t in groups["multi"].iter(f"{NS}tspan")]
    assert multi_lines == ["Line one", "Line two"]
    assert groups["multi"].find(f"{NS}title") is None
    long_lines = [t.text for t in groups["long"].iter(f"{NS}tspan")]
    assert 1 < len(long_lines) <= 3 and long_lines[-1].endswith(ELLIPSIS)
    assert groups["long"].find(f"{NS}title").text == long_text


def test_long_flow_labels_are_cut_too():
    cells = [node("actor", "a", 0, 0, 80, 40), node("actor", "b", 400, 0, 80, 40), flow("f", "a", "b", "word " * 80)]
    group = cell_groups(parse(render_svg(cells, id_prefix="l")))["f"]
    assert len(list(group.iter(f"{NS}tspan"))) == 3
    assert group.find(f".//{NS}title").text == "word " * 80


def test_edges_pass_through_their_vertices():
    cells = [
        node("actor", "a", 0, 0, 100, 50),
        node("actor", "b", 300, 300, 100, 50),
        flow("f", "a", "b", vertices=[{"x": 250, "y": 25}, {"x": 250, "y": 200}]),
    ]
    points = points_of(line_of(cell_groups(parse(render_svg(cells, id_prefix="v")))["f"]).get("d"))
    assert points[1:-1] == [(250, 25), (250, 200)]
    assert points[0] == (100, 25)  # leaves the source's right side, toward the first vertex
    assert points[-1][1] == pytest.approx(300)  # enters the target from the top, from the last vertex


def test_edges_use_tmi_ux_side_ports():
    ports = {"items": [{"id": "pt", "group": "top"}, {"id": "pb", "group": "bottom"}]}
    cells = [
        node("process", "a", 0, 0, 100, 50, ports=ports),
        node("process", "b", 0, 200, 100, 50, ports=ports),
        {**flow("f", "a", "b"), "source": {"cell": "a", "port": "pb"}, "target": {"cell": "b", "port": "pt"}},
    ]
    points = points_of(line_of(cell_groups(parse(render_svg(cells, id_prefix="p")))["f"]).get("d"))
    assert points == [(50, 50), (50, 200)]


def test_edges_to_free_points_and_self_loops():
    cells = [
        node("process", "a", 0, 0, 100, 50),
        {"id": "free", "shape": "flow", "source": {"cell": "a"}, "target": {"x": 400, "y": 25}},
        flow("loop", "a", "a"),
    ]
    groups = cell_groups(parse(render_svg(cells, id_prefix="s")))
    assert points_of(line_of(groups["free"]).get("d")) == [(100, 25), (400, 25)]
    loop = points_of(line_of(groups["loop"]).get("d"))
    assert len(loop) == 4 and max(x for x, _ in loop) > 100


def test_paint_order_is_boundaries_then_edges_then_nodes_each_by_z_index():
    cells = [
        node("process", "top", 0, 0, 50, 50, zIndex=9),
        node("process", "low", 60, 0, 50, 50, zIndex=2),
        node("security-boundary", "zone", -10, -10, 200, 100, zIndex=50),
        node("security-boundary", "inner", 0, 0, 100, 60, zIndex=1),
        flow("f", "low", "top", zIndex=30),
        flow("g", "top", "low", zIndex=3),
        node("process", "default", 120, 0, 50, 50),
    ]
    order = list(cell_groups(parse(render_svg(cells, id_prefix="z"))))
    # A flow's zIndex above the nodes' does not lift its line over them (it would cross their text).
    assert order == ["inner", "zone", "g", "f", "default", "low", "top"]


def test_invisible_cells_and_edges_to_them_or_to_missing_cells_are_skipped():
    cells = [
        node("actor", "seen", 0, 0, 80, 40),
        node("actor", "hidden", 200, 0, 80, 40, visible=False),
        flow("to-hidden", "seen", "hidden"),
        flow("to-nowhere", "seen", "ghost"),
        {**flow("hidden-flow", "seen", "seen"), "visible": False},
    ]
    assert list(cell_groups(parse(render_svg(cells, id_prefix="i")))) == ["seen"]


def test_view_box_contains_every_node_and_label_with_a_margin():
    cells = [
        node("actor", "a", -500, -300, 120, 60, "Far left"),
        node("store", "s", 2000, 900, 150, 80, "Far right"),
        node("process", "turned", 800, 400, 200, 40, angle=45),
    ]
    x, y, w, h = view_box(parse(render_svg(cells, id_prefix="b")))
    for raw in cells:
        box = node_box(normalise_cell(raw))
        assert x < box.x and y < box.y and box.right < x + w and box.bottom < y + h


def test_rotated_nodes_are_drawn_rotated_about_their_centre():
    group = cell_groups(parse(render_svg([node("process", "r", 0, 0, 100, 40, angle=30)], id_prefix="r")))["r"]
    assert group.find(f"{NS}g").get("transform") == "rotate(30 50 20)"


def test_edge_endpoints_lie_on_the_shape_borders(web_app):
    nodes = {c["id"]: normalise_cell(c) for c in web_app if "source" not in c}
    root = parse(render_svg(web_app, id_prefix="w"))
    checked = 0
    for raw in (c for c in web_app if "source" in c):
        points = points_of(line_of(cell_groups(root)[raw["id"]]).get("d"))
        for node_, point in ((nodes[raw["source"]["cell"]], points[0]), (nodes[raw["target"]["cell"]], points[-1])):
            assert on_border(node_, point), (raw["id"], node_.id, point)
            checked += 1
    assert checked == 18


def on_border(node_, point, tolerance=1.0):
    x, y = point
    if node_.kind == "process":
        cx, cy = node_.center
        value = ((x - cx) / (node_.width / 2)) ** 2 + ((y - cy) / (node_.height / 2)) ** 2
        return abs(value - 1) < 0.03
    if node_.kind == "store":  # the outline is the box with curved caps, which the test rebuilds
        cap = store_cap(node_.height)
        bulge = cap * math.sqrt(max(0, 1 - ((x - node_.center[0]) / (node_.width / 2)) ** 2))
        on_side = (
            abs(x - node_.x) < tolerance or abs(x - node_.x - node_.width) < tolerance
        ) and node_.y + cap - tolerance <= y <= node_.y + node_.height - cap + tolerance
        on_cap = (
            abs(y - (node_.y + cap - bulge)) < tolerance or abs(y - (node_.y + node_.height - cap + bulge)) < tolerance
        )
        return on_side or on_cap
    inside_outer = (
        node_.x - tolerance <= x <= node_.x + node_.width + tolerance
        and node_.y - tolerance <= y <= node_.y + node_.height + tolerance
    )
    inside_inner = (
        node_.x + tolerance < x < node_.x + node_.width - tolerance
        and node_.y + tolerance < y < node_.y + node_.height - tolerance
    )
    return inside_outer and not inside_inner


def test_ids_are_namespaced_so_two_svgs_can_share_a_page(web_app):
    def ids_and_refs(text):
        root = parse(text)
        ids = {e.get("id") for e in root.iter() if e.get("id")}
        refs = {m for e in root.iter() for v in e.attrib.values() for m in re.findall(r"url\(#([^)]+)\)", v)}
        refs |= {v for e in root.iter() for k, v in e.attrib.items() if k.startswith("aria-") and k.endswith("by")}
        return ids, refs

    first, second, third = (ids_and_refs(render_svg(web_app, id_prefix=p)) for p in ("one", "two", None))
    for ids, refs in (first, second, third):
        assert ids and refs <= ids  # every reference resolves inside its own SVG
    assert not first[0] & second[0] and not first[0] & third[0] and not second[0] & third[0]
    bad_prefix_ids, _ = ids_and_refs(render_svg(web_app, id_prefix='x" onload="y'))
    assert all(re.fullmatch(r"tmi[0-9a-f]{8}-[\w-]+", i) for i in bad_prefix_ids)


def test_highlight_outlines_only_the_selected_cells(web_app):
    groups = cell_groups(parse(render_svg(web_app, id_prefix="h", highlight={"api", "f4", "not-there"})))
    highlighted = {cid for cid, g in groups.items() if g.find(f".//{NS}*[@class='tmi-highlight']") is not None}
    assert highlighted == {"api", "f4"}


def test_document_has_title_aria_label_role_and_a_plain_description(web_app):
    root = parse(render_svg(web_app, title="Web shop", id_prefix="t"))
    assert root.tag == f"{NS}svg" and root.get("role") == "img" and root.get("aria-label") == "Web shop"
    assert root.find(f"{NS}title").text == "Web shop"
    assert root.find(f"{NS}desc").text == (
        "A data flow diagram with 2 actors, 3 processes, 2 data stores, 2 trust boundaries and 9 data flows."
    )
    assert root.get("width") is None and root.get("height") is None
    assert parse(render_svg([])).find(f"{NS}title").text == "Data flow diagram"


def test_width_and_height_keep_the_aspect_ratio():
    cells = [node("actor", "a", 0, 0, 152, 52)]  # + 24 margin each side: 200 x 100
    root = parse(render_svg(cells, width=400))
    assert (root.get("width"), root.get("height")) == ("400", "200")
    root = parse(render_svg(cells, height=50))
    assert (root.get("width"), root.get("height")) == ("100", "50")
    root = parse(render_svg(cells, width=300, height=300))
    assert (root.get("width"), root.get("height")) == ("300", "300")


def test_an_empty_diagram_says_so():
    root = parse(render_svg([], title="Nothing yet"))
    assert root.find(f".//{NS}text[@class='tmi-empty']").text == "This diagram is empty."
    assert root.find(f"{NS}desc").text == "An empty data flow diagram."


def test_editor_default_colours_get_the_palette_and_custom_colours_are_kept():
    custom = node("process", "c", 200, 0, 100, 50)
    custom["attrs"]["body"].update(fill="#ff0000", stroke="rgb(0, 128, 0)", strokeDasharray="5,5")
    custom["attrs"]["text"]["fill"] = "navy"
    groups = cell_groups(parse(render_svg([node("process", "d", 0, 0, 100, 50, "x"), {**custom, "label": "y"}])))
    default_shape, custom_shape = (groups[i].find(f"{NS}ellipse") for i in ("d", "c"))
    assert default_shape.get("fill") not in ("#FFFFFF", "#ffffff") and default_shape.get("stroke") != "#000000"
    assert (custom_shape.get("fill"), custom_shape.get("stroke"), custom_shape.get("stroke-dasharray")) == (
        "#ff0000",
        "rgb(0, 128, 0)",
        "5,5",
    )


def test_edge_colour_gets_its_own_arrowhead():
    cells = [
        node("actor", "a", 0, 0, 80, 40),
        node("actor", "b", 300, 0, 80, 40),
        flow("red", "a", "b"),
        {**flow("blue", "b", "a"), "attrs": {"line": {"stroke": "#0000ff"}}},
    ]
    root = parse(render_svg(cells, id_prefix="c"))
    fills = {m.get("id"): m.find(f"{NS}path").get("fill") for m in root.iter(f"{NS}marker")}
    blue_marker = line_of(cell_groups(root)["blue"]).get("marker-end")[5:-1]
    assert fills[blue_marker] == "#0000ff" and len(fills) == 2


def test_sample_web_app_renders_to_an_artifact_and_a_screenshot(web_app):
    """Writes test-artifacts/diagrams/sample.svg (and .png when chromium exists) for a human to look at."""
    text = render_svg(web_app, title="Web shop: data flows", width=1200, id_prefix="sample")
    root = parse(text)
    assert len(cell_groups(root)) == len(web_app)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    svg_path = ARTIFACTS / "sample.svg"
    svg_path.write_text(text, encoding="utf-8")
    chromium = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if chromium:
        png_path = ARTIFACTS / "sample.png"
        png_path.unlink(missing_ok=True)
        subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                f"--screenshot={png_path}",
                "--window-size=1200,800",
                svg_path.as_uri(),
            ],
            capture_output=True,
            timeout=90,
            check=False,
        )
        assert png_path.exists() and png_path.stat().st_size > 10_000


def test_cell_fragments_for_the_live_view_agree_with_the_full_render(web_app):
    from portal.diagrams import cell_fragments

    fragments, defs = cell_fragments(web_app, id_prefix="live", highlight={"web"})
    assert [f.cell_id for f in fragments] == list(cell_groups(parse(render_svg(web_app, id_prefix="live"))))
    marker_ids = set(re.findall(r'<marker id="([^"]+)"', defs))
    used = {m for f in fragments for m in re.findall(r"url\(#([^)]+)\)", f.svg)}
    assert used and used == marker_ids
    # A later render of one changed flow refers to the same arrowhead id, so a page can swap it in place.
    changed = [c for c in web_app if c["id"] in ("api", "db")] + [flow("f5", "api", "db", "Reads")]
    later, _ = cell_fragments(changed, id_prefix="live")
    assert set(re.findall(r"url\(#([^)]+)\)", next(f for f in later if f.cell_id == "f5").svg)) <= marker_ids
    assert "tmi-highlight" in next(f.svg for f in fragments if f.cell_id == "web")


def test_orthogonal_routers_draw_only_horizontal_and_vertical_legs():
    cells = [
        node("actor", "a", 0, 0, 100, 50),
        node("store", "b", 300, 200, 100, 50),
        {**flow("f", "a", "b"), "router": {"name": "manhattan"}},
        {**flow("g", "b", "a", vertices=[{"x": 500, "y": 400}]), "router": "orth"},
    ]
    groups = cell_groups(parse(render_svg(cells, id_prefix="o")))
    for cid in ("f", "g"):
        points = points_of(line_of(groups[cid]).get("d"))
        assert len(points) >= 3
        assert all(a[0] == b[0] or a[1] == b[1] for a, b in zip(points, points[1:])), points
    assert points_of(line_of(groups["f"]).get("d")) == [(100, 25), (350, 25), (350, 200)]


def test_rounded_and_smooth_connectors_curve_the_path():
    cells = [
        node("actor", "a", 0, 0, 100, 50),
        node("actor", "b", 300, 300, 100, 50),
        {**flow("r", "a", "b", vertices=[{"x": 350, "y": 25}]), "connector": {"name": "rounded"}},
        {**flow("s", "a", "b", vertices=[{"x": 200, "y": 150}]), "connector": "smooth"},
        {**flow("n", "a", "b", vertices=[{"x": 200, "y": 150}]), "connector": "normal"},
    ]
    groups = cell_groups(parse(render_svg(cells, id_prefix="k")))
    rounded, smooth, normal = (line_of(groups[c]).get("d") for c in "rsn")
    assert rounded == "M100 25L340 25Q350 25 350 35L350 300"
    assert smooth.count("C") == 2 and smooth.startswith("M") and smooth.endswith("300")
    assert "C" not in normal and "Q" not in normal


def test_output_is_a_string_that_templates_treat_as_safe_markup():
    from django.utils.html import conditional_escape

    text = render_svg([node("actor", "a", 0, 0, 80, 40, "<b>")])
    assert isinstance(text, str) and conditional_escape(text) == text
    assert "&lt;b&gt;" in text


def test_the_renderer_imports_only_the_standard_library_and_itself():
    import ast
    import sys

    package = Path(__file__).resolve().parents[2] / "portal" / "diagrams"
    for source in package.glob("*.py"):
        for statement in ast.walk(ast.parse(source.read_text())):
            if isinstance(statement, ast.ImportFrom):
                names = [statement.module or ""]
            elif isinstance(statement, ast.Import):
                names = [alias.name for alias in statement.names]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert name.startswith("portal.diagrams") or top in sys.stdlib_module_names or top == "__future__", (
                    source.name,
                    name,
                )


def test_an_edge_label_that_would_cover_a_node_slides_along_its_path():
    # The label's own spot (5% along) lies over node "a"; it moves to the nearest place clear of both nodes.
    cells = [
        node("process", "a", 0, 0, 100, 60, "Payments Service"),
        node("store", "b", 400, 0, 100, 60, "SQL"),
        {**flow("f", "a", "b"), "labels": [{"attrs": {"text": {"text": "SQL query"}}, "position": {"distance": 0.0}}]},
        flow("g", "b", "a", "Rows"),
    ]
    root = parse(render_svg(cells, id_prefix="l"))
    groups = cell_groups(root)
    boxes = [node_box(normalise_cell(c)) for c in cells[:2]]
    for cid in ("f", "g"):
        halo = groups[cid].find(f".//{NS}rect[@class='tmi-halo']")
        x, y, w, h = (float(halo.get(k)) for k in ("x", "y", "width", "height"))
        assert all(x + w <= b.x or b.right <= x or y + h <= b.y or b.bottom <= y for b in boxes), (cid, x, y, w, h)
    # A label already clear of the nodes stays where X6 put it (the middle).
    halo = groups["g"].find(f".//{NS}rect[@class='tmi-halo']")
    assert float(halo.get("x")) + float(halo.get("width")) / 2 == pytest.approx(250, abs=1)
