import math

import pytest

from portal.diagrams.cells import normalise_cell
from portal.diagrams.geometry import (
    ELLIPSIS,
    Box,
    border_point,
    fit_view_box,
    node_box,
    orthogonal,
    point_along,
    port_point,
    store_cap,
    wrap,
)
from tests.diagrams.conftest import node


def test_border_point_of_a_rectangle_shape():
    actor = normalise_cell(node("actor", "a", 0, 0, 100, 50))
    assert border_point(actor, (500, 25)) == pytest.approx((100, 25))
    assert border_point(actor, (50, -400)) == pytest.approx((50, 0))
    assert border_point(actor, (250, 75)) == pytest.approx((100, 37.5))
    assert border_point(actor, (100, 125)) == pytest.approx((62.5, 50))  # steep: leaves through the bottom


def test_border_point_of_a_process_lies_on_its_ellipse():
    proc = normalise_cell(node("process", "p", 0, 0, 200, 100))
    for target in [(300, 50), (100, 500), (-50, -80), (260, 130)]:
        x, y = border_point(proc, target)
        assert ((x - 100) / 100) ** 2 + ((y - 50) / 50) ** 2 == pytest.approx(1)


def test_border_point_respects_rotation_and_degenerate_direction():
    turned = normalise_cell(node("actor", "a", 0, 0, 100, 20, angle=90))
    # Turned a quarter, the long side points down: the border below the centre is 50 away, not 10.
    assert border_point(turned, (50, 500)) == pytest.approx((50, 60))
    assert border_point(turned, turned.center) is not None


def test_port_points_are_side_midpoints_and_unknown_ports_are_none():
    ports = {"items": [{"id": "t", "group": "top"}, {"id": "r", "group": "right"}, {"id": "x", "group": "absolute"}]}
    proc = normalise_cell(node("process", "p", 0, 0, 100, 40, ports=ports))
    assert port_point(proc, "t") == (50, 0)
    assert port_point(proc, "r") == (100, 20)
    assert port_point(proc, "x") is None and port_point(proc, None) is None


def test_node_box_of_a_rotated_node_covers_its_corners():
    box = node_box(normalise_cell(node("actor", "a", 0, 0, 100, 20, angle=90)))
    assert (box.x, box.y, box.width, box.height) == pytest.approx((40, -40, 20, 100))


def test_point_along_uses_x6_distance_semantics():
    path = [(0, 0), (100, 0), (100, 100)]
    assert point_along(path, 0.5) == ((100, 0), 0)
    assert point_along(path, 0.75)[0] == pytest.approx((100, 50))
    assert point_along(path, 150)[0] == pytest.approx((100, 50))
    assert point_along(path, -25)[0] == pytest.approx((100, 75))
    assert point_along(path, 10_000)[0] == (100, 100)
    assert point_along([(5, 5), (5, 5)], 0.5)[0] == (5, 5)


def test_wrap_by_width_and_newlines_and_truncation():
    assert wrap("Web application server", 70, 10, 5) == (["Web", "application", "server"], False)
    assert wrap("one\ntwo", 500, 10, 5) == (["one", "two"], False)
    lines, cut = wrap("a " * 100, 60, 10, 2)
    assert cut and len(lines) == 2 and lines[-1].endswith(ELLIPSIS)
    lines, cut = wrap("x" * 50, 56, 10, 10)  # 10 characters a line: hard breaks
    assert lines == ["x" * 10] * 5 and not cut
    assert wrap("", 100, 10, 3) == ([], False)


def test_fit_view_box_adds_the_margin_and_has_a_fallback():
    assert fit_view_box([Box(0, 0, 10, 10), Box(20, -5, 10, 10)], 5) == Box(-5, -10, 40, 25)
    assert fit_view_box([], 5).width > 0


def test_box_contains():
    assert Box(0, 0, 100, 100).contains(Box(10, 10, 20, 20))
    assert not Box(0, 0, 100, 100).contains(Box(90, 10, 20, 20))
    assert Box(0, 0, 100, 100).contains(Box(-0.5, 0, 100, 100), slack=1)
    assert math.isclose(Box(0, 0, 10, 10).expand(2).width, 14)


def test_border_point_of_a_store_follows_its_curved_caps():
    store = normalise_cell(node("store", "s", 0, 0, 100, 50))
    cap = store_cap(50)
    x, y = border_point(store, (150, -30))  # hits the box near the top-right corner, inside the rounded cap
    assert y > 0 and ((x - 50) / 50) ** 2 + ((y - cap) / cap) ** 2 == pytest.approx(1)
    assert border_point(store, (150, 25)) == pytest.approx((100, 25))  # the straight side is untouched
    x, y = border_point(store, (-60, 120))
    assert ((x - 50) / 50) ** 2 + ((y - 50 + cap) / cap) ** 2 == pytest.approx(1)


def test_orthogonal_elbows_avoid_the_end_nodes():
    assert orthogonal([(0, 0), (100, 40)]) == [(0, 0), (100, 0), (100, 40)]  # longer axis first
    assert orthogonal([(0, 0), (40, 100)]) == [(0, 0), (0, 100), (40, 100)]
    assert orthogonal([(0, 0), (100, 40)], [Box(90, -10, 20, 20)]) == [(0, 0), (0, 40), (100, 40)]
    assert orthogonal([(0, 0), (100, 10)], [Box(-20, -20, 40, 40), Box(80, -10, 40, 40)]) == [(0, 0), (100, 10)]
    assert orthogonal([(0, 0), (0, 50), (80, 50)]) == [(0, 0), (0, 50), (80, 50)]
