"""PDF reports rendered from real sandbox data (both TMI generations), read back as text and as images."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime

from portal.portfolio.selectors import threat_model_report_get
from portal.portfolio.vocabulary import SEVERITY_LABELS, severity_key, threat_is_open
from portal.reports.render import portfolio_report_pdf, threat_model_report_pdf
from tests.dashboard.conftest import find_model, readable_models
from tests.reports.conftest import (
    folded,
    has_colour,
    page_of,
    pdf_pages_text,
    pdf_text,
    pixel_variance,
    portfolio_read,
    report_read,
    save_page,
)

PAYMENTS = "Customer Payments API"
GENERATED = datetime(2026, 11, 26, 14, 30, tzinfo=UTC)
HOSTILE = "<script>x</script> </td><td>Injected"  # TMI 1.8 refuses <>&"' in names: a mitigation then


def _render(organization, user, tm_id, **kwargs) -> bytes:
    return threat_model_report_pdf(
        report_read(organization, user, tm_id), organization=organization, generated_at=GENERATED, **kwargs
    )


def test_threat_model_report_holds_what_stakeholders_read(
    sandbox, organization, alice, alice_client, artifacts, progress_log
):
    organization.brand_colour = "#aa3300"
    organization.save()
    tm = find_model(sandbox, PAYMENTS)
    hostile = alice_client.threats.create(
        tm["id"], name="Hostile threat", threat_type=["Spoofing"], severity="high", mitigation=HOSTILE
    )
    # TMI's API refuses <>&"' in names today; older data (or another server) may hold them anyway.
    tm["threats"][0]["name"] = HOSTILE
    tm["diagrams"][0]["name"] = HOSTILE
    tm = find_model(sandbox, PAYMENTS)
    calls, progress = progress_log

    pdf = _render(organization, alice, tm["id"], progress=progress)
    (artifacts / "report.pdf").write_bytes(pdf)
    pages = pdf_pages_text(pdf)
    text = pdf_text(pdf)

    assert PAYMENTS in folded(pages[0]) and "26 November 2026" in pages[0] and "Acme" in pages[0]
    # The cover keeps internal addresses and ids off (issue 16): they are on the last page, "About this report".
    assert sandbox.base_url not in folded(pages[0]) and tm["id"] not in folded(pages[0])
    assert sandbox.base_url in folded(pages[-1]).replace("/ ", "/") and tm["id"] in folded(pages[-1]).replace(" ", "")
    # Printed as text, never as markup (a narrow column may wrap it: compared without spaces).
    squeezed = text.replace(" ", "")
    assert tm["threats"][1]["name"] in text
    # Threat name, mitigation, diagram heading, contents entry, SVG title (not printed).
    assert hostile.mitigation == HOSTILE and squeezed.count(HOSTILE.replace(" ", "")) == 4
    assert "<script>alert('xss from a note')</script>" in text  # the seeded note, Markdown with raw HTML
    # Counts by severity, as the dashboard counts them (open, then all), from the sandbox's own state.
    threats = tm["threats"]
    total = Counter(severity_key(t.get("severity")) for t in threats)
    still_open = Counter(
        severity_key(t.get("severity"))
        for t in threats
        if threat_is_open(status=t.get("status"), mitigated=t.get("mitigated"))
    )
    summary = folded(pages[page_of(pages, "threats recorded")])
    for key, label in SEVERITY_LABELS.items():
        assert f"{label} {still_open.get(key, 0)} {total.get(key, 0)}" in summary, key
    # The summary first, then contents with page numbers that point where the sections are; page numbers on
    # every page.
    assert folded(pages[1]).startswith("Summary")
    contents = folded(next(p for p in pages if "Contents Summary" in folded(p)))
    threats_page = page_of(pages, "Open threats first") + 1
    assert re.search(rf"Threats \({len(threats)}\)[ .]*{threats_page}\b", contents)
    # How fresh the store's copy is: on the cover and in every page's footer.
    read = threat_model_report_get(organization=organization, user=alice, threat_model_id=tm["id"]).read_at
    read_words = f"{read.day} {read:%B %Y, %H:%M} UTC"
    assert f"Data read from TMI {read_words}" in folded(pages[0])
    for number, page in enumerate(pages[1:], start=2):
        assert f"Page {number} of {len(pages)}" in folded(page)
        assert "Data read from TMI at" in folded(page)
        assert f"{sandbox.base_url}/threat_models/{tm['id']}" in folded(page).replace("/ ", "/")
    assert "Page 1 of" not in pages[0]  # the cover has no footer
    # Progress: every diagram drawn, then layout, ending at total.
    labels = [label for *_, label in calls]
    diagrams = len(tm["diagrams"])
    assert f"Drawing diagram {diagrams} of {diagrams}" in labels and "Laying out pages" in labels
    assert calls[-1][0] == calls[-1][1] == diagrams + 2

    cover = save_page(pdf, 0, artifacts, "page-1-cover")
    assert pixel_variance(cover) > 100 and has_colour(cover, "#aa3300", minimum=20_000)
    diagram_index = page_of(pages, "A data flow diagram with")
    diagram = save_page(pdf, diagram_index, artifacts, f"page-{diagram_index + 1}-diagram")
    assert pixel_variance(diagram) > 100
    # Vector, not a picture of the diagram: its labels are text in the PDF.
    first_diagram = find_model(sandbox, PAYMENTS)["diagrams"][0]
    labels_in_cells = [c["attrs"]["text"]["text"] for c in first_diagram["cells"] if c.get("shape") == "process"]
    assert all(label in folded(pages[diagram_index]) for label in labels_in_cells)


def test_items_not_for_reports_are_absent_from_the_pdf(organization_18, member_factory, artifacts):
    from portal.accounts.vault import tmi_client

    sandbox, organization = organization_18
    alice = member_factory(organization, "alice")
    tm_id = find_model(sandbox, PAYMENTS)["id"]
    with tmi_client(organization=organization, user=alice) as client:
        client.threats.create(
            tm_id, name="Zebra-secret threat", threat_type=["Spoofing"], severity="critical", include_in_report=False
        )
        client.notes.create(tm_id, name="Zebra-secret note", content="hidden", include_in_report=False)
        client.threats.create(tm_id, name="Zebra-visible threat", threat_type=["Spoofing"])
    pdf = _render(organization, alice, tm_id)
    (artifacts / "report.pdf").write_bytes(pdf)
    text = pdf_text(pdf)

    assert "Zebra-visible threat" in text
    assert "Zebra-secret" not in text
    assert "Critical 0 0" in text  # the hidden critical threat is in no count either


def test_portfolio_report_with_a_filter(sandbox, organization, alice, artifacts, progress_log):
    calls, progress = progress_log
    reports = portfolio_read(organization, alice, filters={"name": "customer"})
    chosen = sorted((r.name for r in reports), key=str.lower)
    others = [tm["name"] for tm in readable_models(sandbox, "alice") if tm["name"] not in chosen]
    assert len(chosen) >= 2 and others

    pdf = portfolio_report_pdf(
        reports,
        organization=organization,
        title="Customer-facing systems",
        filters_description="Name contains “customer”",
        generated_at=GENERATED,
        progress=progress,
    )
    (artifacts / "portfolio.pdf").write_bytes(pdf)
    pages = pdf_pages_text(pdf)
    text = pdf_text(pdf)

    assert "Customer-facing systems" in folded(pages[0]) and "Portfolio report".upper() in pages[0].upper()
    assert all(name not in text for name in others)
    threats = sum(len(r.threats) for r in reports)
    assert f"covers {len(reports)} threat models with {threats} recorded threats" in text
    # The executive summary first (issue 16), then the contents.
    assert folded(pages[1]).startswith("Summary across threat models")
    contents = folded(next(p for p in pages if "Contents Summary across threat models" in folded(p)))
    contents = contents[contents.index("Contents Summary across threat models") :]
    for name in chosen:
        found = re.search(rf"{re.escape(name)}[ .]*(\d+)\b", contents)
        assert found, name
        start = folded(pages[int(found.group(1)) - 1])
        assert f"{name} Summary" in start, start[:80]  # the contents' page number is where the chapter opens
    assert calls[-1][0] == calls[-1][1] == sum(len(r.diagrams) for r in reports) + 2
    first = save_page(pdf, 0, artifacts, "page-1-cover")
    assert pixel_variance(first) > 100 and has_colour(first, organization.brand_colour, minimum=20_000)
    summary = save_page(pdf, 1, artifacts, "page-2-summary")
    assert pixel_variance(summary) > 100 and has_colour(summary, "#d1242f", minimum=50)  # the "high" bar


def test_logo_is_embedded_on_the_cover(sandbox, organization, alice, artifacts, settings, tmp_path):
    import io

    from django.core.files.base import ContentFile
    from PIL import Image

    settings.MEDIA_ROOT = str(tmp_path)
    logo = io.BytesIO()
    Image.new("RGB", (240, 80), "#00aa55").save(logo, format="PNG")
    organization.logo.save("logo.png", ContentFile(logo.getvalue()))

    pdf = _render(organization, alice, find_model(sandbox, PAYMENTS)["id"])
    cover = save_page(pdf, 0, artifacts, "page-1-cover")
    assert has_colour(cover, "#00aa55", minimum=2_000)


def test_a_bad_logo_or_colour_is_skipped_not_fatal(sandbox, organization, alice, settings, tmp_path, artifacts):
    from django.core.files.base import ContentFile

    settings.MEDIA_ROOT = str(tmp_path)
    organization.logo.save("logo.png", ContentFile(b"<html>not an image</html>"))
    organization.brand_colour = "red;}body{display:none"  # written around the model's validation

    pdf = _render(organization, alice, find_model(sandbox, PAYMENTS)["id"])
    cover = save_page(pdf, 0, artifacts, "page-1-cover")
    assert PAYMENTS in pdf_text(pdf) and has_colour(cover, "#1f6feb", minimum=20_000)
