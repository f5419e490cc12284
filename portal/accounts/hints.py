"""The login hint the TMI test IdP takes, per generation (PROTOCOL.md 3.2 and 9.2)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class HintRule:
    pattern: str  # also the HTML `pattern` attribute, so browsers check it before we do
    max_length: int
    help_text: str

    def matches(self, hint: str) -> bool:
        return len(hint) <= self.max_length and re.fullmatch(self.pattern, hint) is not None


HINT_RULES: dict[str, HintRule] = {
    "1.8": HintRule(r"[a-zA-Z0-9._%+\-]+", 254, _("Letters, digits and . _ % + - only, for example alice.")),
    "0.217": HintRule(r"[a-zA-Z0-9\-]{3,20}", 20, _("3 to 20 letters, digits or hyphens, for example alice.")),
}


def hint_rule_for(generation: str) -> HintRule:
    return HINT_RULES[generation]
