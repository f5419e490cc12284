"""Display text: bidi controls and control characters removed, the same in Python and in the live page's
script (the JS twin in static/portal/live/render.js, run here by node on the same inputs)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from portal.diagrams import render_svg
from portal.diagrams.text import clean_display_text

RENDER_JS = Path(__file__).resolve().parents[2] / "static" / "portal" / "live" / "render.js"
REMOVED = (
    [chr(c) for c in range(0x00, 0x20) if c not in (0x09, 0x0A)]
    + ["\x7f"]
    + [chr(c) for c in range(0x80, 0xA0)]
    + ["\u061c", "\u200e", "\u200f"]
    + [chr(c) for c in range(0x202A, 0x202F)]
    + [chr(c) for c in range(0x2066, 0x206A)]
)
KEPT = ["\t", "\n", " ", "é", "\u00a0", "\u200d", "\u05d0", "\u0627", "👩‍💻", "\u2028", "\u202f", "\u2065", "\u206a"]
SAMPLES = [
    "report\u202egnp.exe",
    "a\u2066b\u2069c",
    "\u200fx\u200e",
    "tab\tline\nbreak\r\x00\x1b[31m",
    "\x85\x9f\x7f",
    "plain",
    "",
    "עברית and العربية",
    "emoji 👩‍💻 \ud83d",
    *REMOVED,
    *KEPT,
]


def test_the_issue_example_no_longer_reads_as_a_png():
    assert clean_display_text("report\u202egnp.exe") == "reportgnp.exe"


@pytest.mark.parametrize("char", REMOVED, ids=lambda c: f"U+{ord(c):04X}")
def test_each_unsafe_character_is_removed(char):
    assert clean_display_text(f"a{char}b") == "ab"


@pytest.mark.parametrize("char", KEPT, ids=lambda c: "+".join(f"U+{ord(x):04X}" for x in c))
def test_ordinary_text_is_kept(char):
    assert clean_display_text(f"a{char}b") == f"a{char}b"


def test_none_is_empty_and_other_values_are_text():
    assert clean_display_text(None) == "" and clean_display_text(12) == "12"


def test_diagram_labels_and_titles_are_cleaned():
    svg = render_svg(
        [
            {
                "id": "n1",
                "shape": "process",
                "position": {"x": 0, "y": 0},
                "size": {"width": 200, "height": 60},
                "attrs": {"text": {"text": "report\u202egnp.exe"}},
            }
        ],
        title="Flows\u2067 of\u2069 money",
    )
    assert "reportgnp.exe" in svg and "Flows of money" in svg
    assert not any(char in svg for char in REMOVED)


def test_the_live_script_cleans_exactly_as_the_server():
    node = shutil.which("node")
    assert node, "node is needed to run the live page's script outside a browser"
    script = (
        f"import {{ cleanDisplayText }} from {json.dumps(RENDER_JS.as_uri())};\n"
        "import { readFileSync } from 'node:fs';\n"
        "const samples = JSON.parse(readFileSync(0, 'utf8'));\n"
        "process.stdout.write(JSON.stringify(samples.map(cleanDisplayText)));\n"
    )
    done = subprocess.run(
        [node, "--input-type=module", "-e", script],
        input=json.dumps(SAMPLES),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [clean_display_text(sample) for sample in SAMPLES]
