"""TMI diagram cells (X6, both generations) -> SVG: one renderer for pages, the live view and PDF exports.

Pure Python (standard library only); nothing here imports Django or the TMI client.
"""

from portal.diagrams.cells import Edge, Node, normalise_cell, normalise_cells
from portal.diagrams.render import cell_fragments, render_svg
from portal.diagrams.summary import diagram_summary

__all__ = ["Edge", "Node", "cell_fragments", "diagram_summary", "normalise_cell", "normalise_cells", "render_svg"]
