"""PDF report tests: a member's TMI client on the sandbox, what an export reads (the store made fresh as the
member, then read through their visible set), and ways to read a PDF back (its text, its pages as images saved
under test-artifacts/reports/<test>/)."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from portal.accounts.vault import tmi_client
from portal.portfolio.report_data import ThreatModelReport
from portal.portfolio.selectors import portfolio_report_get, threat_model_report_get
from portal.portfolio.sync import portfolio_reader_refresh

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "reports"


@pytest.fixture
def alice(organization, member_factory):
    """alice, a member of `organization` (the seed's owner of "Customer Payments API")."""
    return member_factory(organization, "alice")


@pytest.fixture
def alice_client(organization, alice) -> Iterator:
    """Alice's TMI client through the token vault: for changes made in TMI as her."""
    with tmi_client(organization=organization, user=alice) as client:
        yield client


def report_read(organization, user, tm_id: str) -> ThreatModelReport | None:
    """What an export of one model reads (portal/exports/running.py): the store made fresh for it with the
    member's access (the TMI calls), then the model read from the store through their visible set."""
    portfolio_reader_refresh(organization, user_id=user.pk, models={str(tm_id)})
    return threat_model_report_get(organization=organization, user=user, threat_model_id=str(tm_id))


def portfolio_read(organization, user, *, filters: dict | None = None, progress=None) -> list[ThreatModelReport]:
    """What a portfolio export reads: the member's visible set and its models made fresh, then the store."""
    portfolio_reader_refresh(organization, user_id=user.pk)
    return portfolio_report_get(organization=organization, user=user, filters=filters, progress=progress)


@pytest.fixture
def artifacts(request) -> Path:
    folder = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*"):
        old.unlink()
    return folder


def pdf_pages_text(pdf: bytes) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages]


def pdf_streams(pdf: bytes) -> list[bytes]:
    """Every stream in the PDF (pages, forms, fonts), decoded, in object order: those in object streams too."""
    from pypdf import PdfReader
    from pypdf.generic import StreamObject

    reader = PdfReader(io.BytesIO(pdf))
    objects = (reader.get_object(number) for number in range(1, reader.trailer["/Size"]))
    return [stream.get_data() for stream in objects if isinstance(stream, StreamObject)]


def pdf_text(pdf: bytes) -> str:
    """The whole text, whitespace folded (table cells and wrapped lines come out as single spaces)."""
    return re.sub(r"\s+", " ", " ".join(pdf_pages_text(pdf)))


def folded(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def page_image(pdf: bytes, index: int, *, scale: float = 1.5) -> Image.Image:
    import pypdfium2

    document = pypdfium2.PdfDocument(pdf)
    try:
        return document[index].render(scale=scale).to_pil().convert("RGB")
    finally:
        document.close()


def save_page(pdf: bytes, index: int, folder: Path, name: str) -> Image.Image:
    image = page_image(pdf, index)
    image.save(folder / f"{name}.png")
    return image


def pixel_variance(image: Image.Image) -> float:
    return max(ImageStat.Stat(image.convert("L")).var)


def page_fill(image: Image.Image) -> float:
    """How far down an A4 page's body (inside its 18 mm top and 22 mm bottom margins) anything is printed."""
    grey = image.convert("L")
    top, bottom = round(grey.height * 18 / 297), round(grey.height * (297 - 22) / 297)
    body = grey.crop((0, top, grey.width, bottom)).point(lambda v: 255 if v < 235 else 0)
    box = body.getbbox()
    return 0.0 if box is None else box[3] / body.height


def has_colour(image: Image.Image, hex_colour: str, *, tolerance: int = 6, minimum: int = 500) -> bool:
    """Whether at least `minimum` pixels are within `tolerance` of the colour on every channel."""
    target = tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    count = 0
    for pixels, colour in image.getcolors(maxcolors=1 << 24):
        if all(abs(a - b) <= tolerance for a, b in zip(colour, target)):
            count += pixels
    return count >= minimum


def page_of(pages: list[str], needle: str) -> int:
    """The index of the first page (after the cover) whose text holds `needle`."""
    return next(i for i, text in enumerate(pages) if i > 0 and needle in folded(text))


Progress = list[tuple[int, int, str]]


@pytest.fixture
def progress_log() -> tuple[Progress, Callable[[int, int, str], None]]:
    calls: Progress = []
    return calls, lambda done, total, label: calls.append((done, total, label))


@pytest.fixture
def organization_18(db, sandbox_factory):
    """An organisation on a TMI 1.8 sandbox only: `include_in_report` exists at 1.8 alone."""
    from portal.organizations.models import Organization

    sandbox = sandbox_factory("1.8")
    return sandbox, Organization.objects.create(name="Acme", slug="acme", tmi_base_url=sandbox.base_url)
