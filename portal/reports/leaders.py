"""A contents line's leader (the dots between an entry and its page number) held as light repetitions.

WeasyPrint lays a leader out as one copy of its text box per repetition of its text, each with every attribute
of a laid-out box (some fifty): a 50-model portfolio's contents hold some 27,000 of them, most of the text
boxes of its 167 pages and a tenth of the memory its layout holds (issue 18). `install()` lets WeasyPrint place
the repetitions, then puts in their place repetitions that hold only their own position and read everything
else from their line's shared copy: the same boxes to every later step, drawn the same, one by one.
"""

from __future__ import annotations

import weasyprint.layout.inline as weasy_inline
from weasyprint.formatting_structure.boxes import TextBox
from weasyprint.layout.leader import leader_index

_ORIGINAL = weasy_inline.handle_leader


class Repetition(TextBox):
    """One repetition of a leader's text: its position its own, everything else a class attribute of the
    leader's own subclass (`repetitions`), read as fast as an attribute of its own. Translating it sets its
    own position, as a copy's."""

    def __init__(self, position_x: float, position_y: float):
        self.position_x = position_x
        self.position_y = position_y


def repetitions(model: TextBox, positions: list[tuple[float, float]]) -> tuple[TextBox, ...]:
    """Boxes that read as copies of `model` placed at `positions`; plain copies when one of its attributes
    would bind as a method on a class (it holds none: a callable would)."""
    attributes = dict(vars(model))
    if any(hasattr(type(value), "__get__") for value in attributes.values()):
        return tuple(_placed_copy(model, x, y) for x, y in positions)
    leader = type("Repetition", (Repetition,), attributes)
    return tuple(leader(x, y) for x, y in positions)


def _placed_copy(model: TextBox, position_x: float, position_y: float) -> TextBox:
    box = model.copy()
    box.position_x, box.position_y = position_x, position_y
    return box


def leader_repetitions(context, line, containing_block):
    _ORIGINAL(context, line, containing_block)
    index, leader_box = leader_index(line)
    if index is None or len(leader_box.children) < 2:
        return
    placed = leader_box.children
    leader_box.children = repetitions(placed[0], [(box.position_x, box.position_y) for box in placed])


def install() -> None:
    """Idempotent."""
    weasy_inline.handle_leader = leader_repetitions
