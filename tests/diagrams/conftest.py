"""Cell builders and an SVG parser shared by the diagram tests."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

NS = "{http://www.w3.org/2000/svg}"


def node(shape: str, cell_id: str, x: float, y: float, w: float, h: float, label: str = "", **extra: Any) -> dict:
    """A node in TMI 1.8's canonical form (position/size, label in attrs.text.text)."""
    cell = {
        "id": cell_id,
        "shape": shape,
        "position": {"x": x, "y": y},
        "size": {"width": w, "height": h},
        "attrs": {
            "body": {"fill": "#FFFFFF", "stroke": "#000000", "strokeWidth": 2},
            "text": {"text": label, "fontSize": 12},
        },
    }
    cell.update(extra)
    return cell


def flat_node(shape: str, cell_id: str, x: float, y: float, w: float, h: float, label: str = "", **extra: Any) -> dict:
    """A node in the integration guide's flat form."""
    return {"id": cell_id, "shape": shape, "x": x, "y": y, "width": w, "height": h, "label": label, **extra}


def flow(cell_id: str, source: str, target: str, label: str = "", shape: str = "flow", **extra: Any) -> dict:
    cell = {
        "id": cell_id,
        "shape": shape,
        "source": {"cell": source},
        "target": {"cell": target},
        "attrs": {"line": {"stroke": "#000000", "targetMarker": {"name": "classic"}}},
    }
    if label:
        cell["labels"] = [{"attrs": {"text": {"text": label}}, "position": 0.5}]
    cell.update(extra)
    return cell


def parse(svg_text: str) -> ET.Element:
    return ET.fromstring(svg_text)


def cell_groups(root: ET.Element) -> dict[str, ET.Element]:
    return {g.get("data-cell-id"): g for g in root.iter(f"{NS}g") if g.get("data-cell-id") is not None}


def classes(element: ET.Element) -> set[str]:
    return set((element.get("class") or "").split())


def web_app_cells() -> list[dict]:
    """A realistic small web shop: both node forms, both edge shapes, ports, vertices, two boundaries."""
    ports = {"items": [{"id": side, "group": side} for side in ("top", "right", "bottom", "left")]}
    return [
        node("security-boundary", "dmz", 230, 40, 250, 460, "DMZ", zIndex=0),
        node("security-boundary", "internal", 540, 40, 560, 470, "Internal network (trusted)", zIndex=0),
        node("actor", "customer", 30, 80, 140, 64, "Customer"),
        node("process", "browser", 30, 300, 140, 80, "Web browser"),
        node("process", "web", 280, 170, 150, 84, "Web server", ports=ports),
        node("process", "api", 600, 170, 160, 84, "Orders API", ports=ports),
        flat_node("store", "db", 880, 80, 160, 84, "Orders database"),
        node("store", "cache", 880, 340, 160, 84, "Session cache"),
        node("actor", "psp", 600, 560, 160, 64, "Payment provider"),
        node("text-box", "note", 280, 400, 170, 60, "All traffic from the internet ends at the DMZ"),
        flow("f1", "customer", "browser", "Browses the shop"),
        flow("f2", "browser", "web", "HTTPS requests", vertices=[{"x": 230, "y": 320}]),
        flow("f3", "web", "browser", "HTML pages", vertices=[{"x": 200, "y": 200}]),
        {
            **flow("f4", "web", "api", "REST calls (JWT)"),
            "source": {"cell": "web", "port": "right"},
            "target": {"cell": "api", "port": "left"},
        },
        flow("f5", "api", "db", "SQL queries", shape="edge"),
        {
            **flow("f6", "db", "api", "Order records", vertices=[{"x": 1010, "y": 280}, {"x": 790, "y": 280}]),
            "connector": {"name": "rounded"},
        },
        {**flow("f7", "api", "cache", "Session data"), "router": {"name": "manhattan"}, "connector": "rounded"},
        flow("f8", "api", "psp", "Payment requests", vertices=[{"x": 650, "y": 420}]),
        {
            **flow("f9", "psp", "api", "Payment webhooks", vertices=[{"x": 720, "y": 420}]),
            "labels": [{"attrs": {"text": {"text": "Payment webhooks"}}, "position": {"distance": 0.35}}],
        },
    ]


@pytest.fixture
def web_app() -> list[dict]:
    return web_app_cells()
