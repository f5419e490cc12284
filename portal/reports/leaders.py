"""A contents line's leader (the dots between an entry and its page number) held as light repetitions.

WeasyPrint lays a leader out as one copy of its text box per repetition of its text, each with every attribute
of a laid-out box (some fifty): a 50-model portfolio's contents hold some 27,000 of them, most of the text
boxes of its 167 pages and a tenth of the memory its layout holds (issue 18). `install()` lets WeasyPrint place
the repetitions, then puts in their place repetitions that hold only their own position and read everything
else from one shared copy: the same boxes to every later step, drawn the same, one by one.
"""

from __future__ import annotations

import weasyprint.layout.inline as weasy_inline
from weasyprint.formatting_structure.boxes import TextBox
from weasyprint.layout.leader import leader_index

_ORIGINAL = weasy_inline.handle_leader


class Repetition(TextBox):
    """One repetition of a leader's text: its position its own, the rest its model's (a box no step changes,
    as it is in no box tree). Translating it sets its own position, as a copy's."""

    def __init__(self, model: TextBox, position_x: float, position_y: float):
        self._model = model
        self.position_x = position_x
        self.position_y = position_y

    def __getattr__(self, name):
        if name == "_model":  # not set yet: a box being made by copy()
            raise AttributeError(name)
        return getattr(self._model, name)


def leader_repetitions(context, line, containing_block):
    _ORIGINAL(context, line, containing_block)
    index, leader_box = leader_index(line)
    if index is None or len(leader_box.children) < 2:
        return
    model = leader_box.children[0].copy()
    leader_box.children = tuple(Repetition(model, box.position_x, box.position_y) for box in leader_box.children)


def install() -> None:
    """Idempotent."""
    weasy_inline.handle_leader = leader_repetitions
