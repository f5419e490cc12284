"""TMI notes: Markdown rendered, then sanitised; user-written HTML never becomes markup."""

from __future__ import annotations

from portal.portfolio.markdown import markdown_to_safe_html
from tests.dashboard.conftest import Elements

SEEDED = (
    "Reproduction from ticket SEC-42 (user-written, keep it escaped):\n\n"
    "<script>alert('xss from a note')</script>\n<img src=x onerror=\"alert(1)\">\n"
    '<b>bold</b> and <a href="javascript:alert(2)">a link</a>\n'
)


def test_the_seeded_script_note_comes_out_inert():
    html = markdown_to_safe_html(SEEDED)
    parsed = Elements(html)
    assert {tag for tag, _ in parsed.tags} == {"p"}
    assert not [attrs for _, attrs in parsed.tags if attrs]
    assert "<script>alert('xss from a note')</script>" in parsed.text  # visible as text
    assert "&lt;script&gt;" in html


def test_markdown_formatting_survives():
    html = markdown_to_safe_html("## Title\n\n- **bold** and *em*\n- `code`\n\n> quote\n\n[docs](https://example.com)")
    tags = [tag for tag, _ in Elements(html).tags]
    assert tags == ["h2", "ul", "li", "strong", "em", "li", "code", "blockquote", "p", "p", "a"]
    assert 'href="https://example.com"' in html and 'rel="noopener noreferrer nofollow"' in html


def test_dangerous_links_and_images_are_dropped():
    html = markdown_to_safe_html("[x](javascript:alert(1)) [y](data:text/html,hi) ![pixel](https://t.example/p.png)")
    parsed = Elements(html)
    assert not [a for tag, a in parsed.tags if tag == "a"]
    assert not [tag for tag, _ in parsed.tags if tag == "img"]


def test_nothing_and_none_render_empty():
    assert markdown_to_safe_html(None) == "" and markdown_to_safe_html("") == ""
