"""axe-core in the page under test: the accessibility rules a stakeholder's browser would be audited with.

The script is evaluated through the DevTools protocol, which the portal's Content-Security-Policy (rightly)
does not let a page do for itself. `axe_problems` returns axe's findings in a form a failed assert can print:
its violations and also what it could not decide ("needs review", axe's `incomplete`), which issue 17 found
to be real defects every time (help texts that did not exist, SVG text whose contrast axe could not compute).
"""

from __future__ import annotations

from pathlib import Path

import axe_playwright_python

AXE_SOURCE = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()
# WCAG 2.1 A and AA, and axe's best practices: what a public-sector audit would run.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


def axe_problems(page) -> list[str]:
    """Each violation and each needs-review item as "kind rule (impact): the first offending nodes"; empty when
    the page passes."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_SOURCE + "\n;undefined")
    result = page.evaluate(
        "async (tags) => await axe.run(document, "
        "{runOnly: {type: 'tag', values: tags}, resultTypes: ['violations', 'incomplete']})",
        AXE_TAGS,
    )
    return [
        f"{kind} {v['id']} ({v['impact']}): {v['help']} at " + "; ".join(n["html"][:160] for n in v["nodes"][:3])
        for kind in ("violations", "incomplete")
        for v in result[kind]
    ]
