"""The PDF cover uses the small re-encoded logo only: a logo stored before the upload rules is downscaled
or left out, so no export decodes a huge image (the issue: 12000x12000 pixels, ~1 GB per export)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from portal.organizations.models import Organization
from portal.reports.render import threat_model_report_pdf
from tests.dashboard.conftest import find_model
from tests.reports.conftest import has_colour, pdf_text, report_read, save_page
from tests.tenant_admin.logo_files import blank_png, photo_bytes

PAYMENTS = "Customer Payments API"
GENERATED = datetime(2026, 11, 26, 14, 30, tzinfo=UTC)


def embedded_images(pdf: bytes) -> list[tuple[int, int]]:
    """(width, height) of every image XObject in the PDF, however deeply nested in form XObjects."""
    from pypdf import PdfReader

    sizes, seen = [], set()

    def walk(resources):
        xobjects = (resources or {}).get("/XObject") or {}
        for reference in xobjects.values():
            key = getattr(reference, "idnum", None)
            if key in seen:
                continue
            seen.add(key)
            xobject = reference.get_object()
            if xobject.get("/Subtype") == "/Image":
                sizes.append((int(xobject["/Width"]), int(xobject["/Height"])))
            elif xobject.get("/Subtype") == "/Form":
                walk(xobject.get("/Resources"))

    for page in PdfReader(io.BytesIO(pdf)).pages:
        walk(page.get("/Resources"))
    return sizes


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def export_pdf(sandbox, organization, owner) -> bytes:
    report = report_read(organization, owner, find_model(sandbox, PAYMENTS)["id"])
    return threat_model_report_pdf(
        report, organization=Organization.objects.get(pk=organization.pk), generated_at=GENERATED
    )


def test_an_uploaded_logo_reaches_the_pdf_downscaled(sandbox, organization, owner, artifacts):
    browser = Client()
    browser.force_login(owner, backend="django.contrib.auth.backends.ModelBackend")
    done = browser.post(
        reverse("tenant_admin:branding", args=["acme"]),
        {
            "name": "Acme",
            "brand_colour": "#123456",
            "logo": SimpleUploadedFile("big.jpg", photo_bytes("JPEG", (3000, 1500), exif=True)),
        },
    )
    assert done.status_code == 302

    pdf = export_pdf(sandbox, organization, owner)
    assert embedded_images(pdf) == [(512, 256)]
    assert b"Jane Photographer" not in pdf
    cover = save_page(pdf, 0, artifacts, "page-1-cover")
    assert has_colour(cover, "#c81e1e", tolerance=12, minimum=500)  # the logo's red third is on the cover


def test_a_large_logo_stored_before_the_rule_is_embedded_downscaled(sandbox, organization, owner):
    organization.logo.save("acme-old.jpg", ContentFile(photo_bytes("JPEG", (3000, 1500))))
    assert embedded_images(export_pdf(sandbox, organization, owner)) == [(512, 256)]


def test_a_decompression_bomb_stored_before_the_rule_is_left_out_of_the_pdf(sandbox, organization, owner):
    organization.logo.save("acme-bomb.png", ContentFile(blank_png(12000, 12000)))
    pdf = export_pdf(sandbox, organization, owner)
    assert embedded_images(pdf) == [] and PAYMENTS in pdf_text(pdf)
