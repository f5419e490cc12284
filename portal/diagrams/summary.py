"""What a diagram contains, in terms a plain-language page can print: counts, who sits in which boundary,
and which flows cross a boundary."""

from __future__ import annotations

from typing import Any

from portal.diagrams.cells import Edge, Node, normalise_cells, split
from portal.diagrams.geometry import node_box

COUNT_KEYS = {
    "actor": "actors",
    "process": "processes",
    "store": "stores",
    "boundary": "boundaries",
    "text": "text_boxes",
    "unknown": "other",
}
NOUNS = [
    ("actors", "actor", "actors"),
    ("processes", "process", "processes"),
    ("stores", "data store", "data stores"),
    ("boundaries", "trust boundary", "trust boundaries"),
    ("flows", "data flow", "data flows"),
    ("other", "other element", "other elements"),
]
# Shapes that take part in the data flow (text boxes are annotations and belong nowhere).
ELEMENT_KINDS = frozenset({"actor", "process", "store", "unknown"})


def visible_parts(cells: Any) -> tuple[dict[str, Node], list[Edge]]:
    nodes, edges = split(cell for cell in normalise_cells(cells) if cell.visible)
    return nodes, edges


def kind_counts(nodes: dict[str, Node], edges: list[Edge]) -> dict[str, int]:
    counts = dict.fromkeys([*COUNT_KEYS.values(), "flows"], 0)
    for node in nodes.values():
        counts[COUNT_KEYS[node.kind]] += 1
    counts["flows"] = len(edges)
    return counts


def describe(counts: dict[str, int]) -> str:
    """'A data flow diagram with 1 actor, 3 processes and 2 data flows.'"""
    parts = [f"{counts[key]} {one if counts[key] == 1 else many}" for key, one, many in NOUNS if counts.get(key)]
    if not parts:
        return "An empty data flow diagram."
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"A data flow diagram with {listed}."


def _ancestors(node: Node, nodes: dict[str, Node]) -> set[str]:
    seen: set[str] = set()
    parent = node.parent
    while parent and parent in nodes and parent not in seen and parent != node.id:
        seen.add(parent)
        parent = nodes[parent].parent
    return seen


def boundary_membership(nodes: dict[str, Node]) -> dict[str, list[str]]:
    """node id -> ids of the boundaries it sits in (by parent chain, a boundary's children list, or geometry)."""
    boundaries = [n for n in nodes.values() if n.kind == "boundary"]
    membership: dict[str, list[str]] = {}
    for node in nodes.values():
        if node.kind == "text":
            continue
        ancestors = _ancestors(node, nodes)
        box = node_box(node)
        inside = [
            b.id
            for b in boundaries
            if b.id != node.id and (b.id in ancestors or node.id in b.children or node_box(b).contains(box, slack=1.0))
        ]
        membership[node.id] = inside
    return membership


def _ref(node: Node) -> dict[str, str]:
    return {"id": node.id, "label": node.label, "kind": node.kind}


def diagram_summary(cells: Any) -> dict[str, Any]:
    """Counts by kind, boundary membership, flows with their ends and the boundaries they cross.

    {"counts": {"actors", "processes", "stores", "boundaries", "flows", "text_boxes", "other"},
     "description": "A data flow diagram with ...",
     "boundaries": [{"id", "label", "members": [{"id", "label", "kind"}], "nested": [boundary ids]}],
     "outside": [{"id", "label", "kind"}],   # elements in no boundary
     "flows": [{"id", "source", "target", "labels", "crosses": [boundary ids]}]}
    """
    nodes, edges = visible_parts(cells)
    counts = kind_counts(nodes, edges)
    membership = boundary_membership(nodes)
    boundaries = []
    for node in nodes.values():
        if node.kind != "boundary":
            continue
        inside = [nodes[i] for i, owners in membership.items() if node.id in owners]
        boundaries.append(
            {
                "id": node.id,
                "label": node.label,
                "members": [_ref(n) for n in inside if n.kind in ELEMENT_KINDS],
                "nested": [n.id for n in inside if n.kind == "boundary"],
            }
        )
    flows = []
    for edge in edges:
        source = edge.source.cell if edge.source.cell in nodes else None
        target = edge.target.cell if edge.target.cell in nodes else None
        around_source = set(membership.get(source or "", []))
        around_target = set(membership.get(target or "", []))
        flows.append(
            {
                "id": edge.id,
                "source": source,
                "target": target,
                "labels": [label.text for label in edge.labels],
                "crosses": sorted(around_source ^ around_target) if source and target else [],
            }
        )
    return {
        "counts": counts,
        "description": describe(counts),
        "boundaries": boundaries,
        "outside": [_ref(n) for n in nodes.values() if n.kind in ELEMENT_KINDS and not membership.get(n.id)],
        "flows": flows,
    }
