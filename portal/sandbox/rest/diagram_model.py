"""1.8 `GET /threat_models/{id}/diagrams/{id}/model`: the diagram as a minimal model for automated analysis
(the real 1.8.22 answers `{id, name, description, metadata, cells, assets}`: the threat model's id, name and
description, its metadata as a key -> value map, each cell without styling or geometry, and the assets the
cells refer to). JSON only: the real server also offers YAML and GraphML by Accept, which the sandbox does not.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from portal.sandbox.rest import shapes
from portal.sandbox.rest.children import KIND_BY_COLLECTION, find
from portal.sandbox.rest.pipeline import Call, Operation, declared
from portal.sandbox.rest.spec import Spec

PATH = "/threat_models/{threat_model_id}/diagrams/{diagram_id}/model"
EDGE_SHAPES = ("edge", "flow")
_NO_ASSETS = ("text-box", "security-boundary")  # these shapes never carry data assets in the minimal model


def _flat(metadata: Any) -> dict[str, str]:
    if not isinstance(metadata, list):
        return {}
    return {m["key"]: m.get("value", "") for m in metadata if isinstance(m, dict) and "key" in m}


def _text(attrs: Any) -> str:
    text = (attrs or {}).get("text") if isinstance(attrs, dict) else None
    value = text.get("text") if isinstance(text, dict) else None
    return value if isinstance(value, str) else ""


def _is_edge(cell: dict[str, Any]) -> bool:
    return cell.get("shape") in EDGE_SHAPES or ("source" in cell and "target" in cell)


def minimal_cells(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    nodes = [c for c in cells if isinstance(c, dict) and not _is_edge(c)]
    children: dict[str, list[str]] = {}
    for node in nodes:
        if node.get("parent"):
            children.setdefault(node["parent"], []).append(node["id"])
    by_id = {n.get("id"): n for n in nodes}
    out: list[dict[str, Any]] = []
    for cell in cells:
        if not isinstance(cell, dict):
            continue
        data = cell.get("data") if isinstance(cell.get("data"), dict) else {}
        labels: list[str] = []
        if _is_edge(cell):
            labels = [_text(label.get("attrs")) for label in cell.get("labels") or [] if isinstance(label, dict)]
            item: dict[str, Any] = {
                "id": cell.get("id"),
                "shape": "flow",
                "source": cell.get("source"),
                "target": cell.get("target"),
            }
        else:
            kids = children.get(cell.get("id"), [])
            labels = [_text(cell.get("attrs"))] + [
                _text(by_id[k].get("attrs")) for k in kids if by_id.get(k, {}).get("shape") == "text-box"
            ]
            item = {"id": cell.get("id"), "shape": cell.get("shape"), "children": kids}
            if cell.get("parent"):
                item["parent"] = cell["parent"]
            item["security_boundary"] = cell.get("shape") == "security-boundary" or bool(data.get("security_boundary"))
        item["labels"] = [label for label in labels if label]
        if data.get("data_assets") and cell.get("shape") not in _NO_ASSETS:
            item["data_asset_ids"] = list(data["data_assets"])
        item["metadata"] = _flat(data.get("_metadata"))
        out.append(item)
    return out


def get_model(call: Call) -> Response:
    diagram = find(call, KIND_BY_COLLECTION["diagrams"])
    cells = minimal_cells(diagram.get("cells") or [])
    wanted = {a for c in cells for a in c.get("data_asset_ids", [])}
    assets = [
        shapes.child_view(call.state, "assets", a, "read")
        for a in shapes.live(call.tm.get("assets", []))
        if a["id"] in wanted
    ]
    tm = call.tm
    return call.json(
        {
            "id": tm["id"],
            "name": tm["name"],
            "description": tm.get("description") or "",
            "metadata": _flat(tm.get("metadata")),
            "cells": cells,
            "assets": assets,
        }
    )


def operations(spec: Spec) -> list[tuple[str, list[Operation]]]:
    ops = declared(spec, PATH, {"GET": (get_model, "reader")})
    return [(PATH, ops)] if ops else []
