"""Text from TMI reaches pages and PDFs without bidi overrides or control characters (issue 10, item 7):
a threat named `report\u202egnp.exe` must read "reportgnp.exe", never "reportexe.png". Against the real
sandbox in both TMI generations, created through TMI's API as an attacker with write access would."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from portal.accounts.vault import tmi_client
from portal.reports.render import portfolio_report_pdf, threat_model_report_pdf
from tests.dashboard.conftest import MODEL_BACKEND
from tests.diagrams.test_text import REMOVED
from tests.reports.conftest import pdf_text, portfolio_read, report_read

pytestmark = pytest.mark.django_db(transaction=True)  # the pages are async views

THREAT = "report\u202egnp.exe"
MODEL = "Q3 \u2067report\u2069\u202egnp.exe"
SEEN_THREAT, SEEN_MODEL = "reportgnp.exe", "Q3 reportgnp.exe"
OWNER = "Mallory \u202eyrollaM"


@pytest.fixture
def world(sandbox, organization, owner):
    alice = owner
    user = next(u for u in sandbox.state.users.values() if u.provider_id == "alice")
    user.display_name = OWNER  # TMI stores who created a model as its owner, name and all
    # Made through TMI with plain text, then given the hostile text where TMI keeps it: TMI 1.8 now refuses
    # bidi and zero-width characters on writes (PROTOCOL.md 12.5), but older data, a 0.217 server or one
    # that checks less still hands them out, and the portal must clean them wherever they come from.
    with tmi_client(organization=organization, user=alice) as client:
        tm = client.threat_models.create(name="Q3 report")
        client.threats.create(tm.id, name="Threat", threat_type=["Spoofing"], severity="high")
        client.diagrams.create(tm.id, "Data flows")
    stored = next(t for t in sandbox.state.threat_models.values() if t["id"] == str(tm.id))
    stored.update(name=MODEL, description="Money \u202eyenom flows\u200f here\u0085.")
    stored["threats"][0].update(
        name=THREAT, description="Opens \u2066the\u2069 attachment", mitigation="Block \u202dit\u202c"
    )
    stored["diagrams"][0]["name"] = "Data \u202eswolf"
    stored["diagrams"][0]["cells"] = [
        {
            "id": "n1",
            "shape": "process",
            "position": {"x": 10, "y": 10},
            "size": {"width": 200, "height": 60},
            "attrs": {"text": {"text": "Mail \u202egnp.exe"}},
        }
    ]
    browser = Client()
    browser.force_login(alice, backend=MODEL_BACKEND)
    return {"alice": alice, "tm": str(tm.id), "browser": browser}


def assert_clean(text: str, where: str) -> None:
    found = sorted({f"U+{ord(char):04X}" for char in text if char in REMOVED})
    assert not found, f"{where} still holds {found}"


def test_pages_show_tmi_text_without_bidi_or_control_characters(world):
    browser = world["browser"]
    model_page = browser.get(reverse("dashboard:threat_model", args=["acme", world["tm"]])).content.decode()
    assert SEEN_THREAT in model_page and SEEN_MODEL in model_page and "Mallory yrollaM" in model_page
    assert "Mail gnp.exe" in model_page and "Data swolf" in model_page  # the diagram's SVG and its name
    assert "Opens the attachment" in model_page and "Block it" in model_page
    assert_clean(model_page, "the threat-model page")

    overview = browser.get(reverse("dashboard:portfolio", args=["acme"])).content.decode()
    assert SEEN_MODEL in overview
    assert_clean(overview, "the overview")

    listing = browser.get(reverse("dashboard:threat_models", args=["acme"]), {"q": "Q3"}).content.decode()
    assert SEEN_MODEL in listing and "Mallory yrollaM" in listing
    assert_clean(listing, "the threat-model list")


def test_pdfs_show_tmi_text_without_bidi_or_control_characters(world, organization):
    generated = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    report = report_read(organization, world["alice"], world["tm"])  # as an export reads: the store, made fresh
    reports = portfolio_read(organization, world["alice"], filters={"search": "Q3"})
    for pdf in (
        threat_model_report_pdf(report, organization=organization, generated_at=generated),
        portfolio_report_pdf(
            reports, organization=organization, title="All", filters_description="", generated_at=generated
        ),
    ):
        text = pdf_text(pdf)
        assert SEEN_THREAT in text.replace(" ", "") and SEEN_MODEL.replace(" ", "") in text.replace(" ", "")
        assert "Mallory yrollaM" in text
        assert_clean(text, "the PDF's text")
        metadata = PdfReader(io.BytesIO(pdf)).metadata or {}
        assert metadata and MODEL not in str(metadata.get("/Title", ""))
        assert_clean(" ".join(str(value) for value in metadata.values()), "the PDF's metadata (its title)")


def test_peoples_names_from_tmi_are_cleaned_on_admin_pages_and_in_the_top_bar(world):
    alice = world["alice"]
    alice.first_name, alice.last_name = "Mal\u202eory", "\u2066Smith\u2069"  # as TMI's userinfo named her
    alice.save()
    members = world["browser"].get(reverse("tenant_admin:members", args=["acme"])).content.decode()
    assert "Malory Smith" in members
    assert_clean(members, "the members page")
    overview = world["browser"].get(reverse("dashboard:portfolio", args=["acme"])).content.decode()
    assert '<span class="user-name">Malory Smith</span>' in overview
