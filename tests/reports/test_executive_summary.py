"""The PDFs' executive summary (issue 16, section 7): it comes before the contents, ranks the models by risk, says
what to do next with the same counts as the pages, keeps the server's URL and ids off the cover, and labels TMI's
own per-threat score as TMI's. Counts are computed here from the sandbox's state."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta

from portal.portfolio.ssvc import ACT_NOW_DECISIONS, ssvc_decision_key
from portal.portfolio.vocabulary import SEVERITY_WEIGHTS, severity_key, term_key, threat_is_open
from portal.reports.render import portfolio_report_pdf, threat_model_report_pdf
from tests.dashboard.conftest import find_model, readable_models
from tests.reports.conftest import (
    folded,
    page_fill,
    page_image,
    pdf_pages_text,
    pdf_text,
    portfolio_read,
    report_read,
    save_page,
)

PAYMENTS = "Customer Payments API"


def _open(t: dict) -> bool:
    return not t.get("deleted_at") and threat_is_open(status=t.get("status"), mitigated=t.get("mitigated"))


def _risk(tm: dict) -> int:
    return sum(SEVERITY_WEIGHTS[severity_key(t.get("severity"))] for t in tm.get("threats", []) if _open(t))


def _generated() -> datetime:
    return datetime.now(UTC)


def test_portfolio_report_opens_with_the_summary_and_ranks_models_by_risk(sandbox, organization, alice, artifacts):
    models = readable_models(sandbox, "alice")
    pdf = portfolio_report_pdf(
        portfolio_read(organization, alice),
        organization=organization,
        title="Portfolio",
        filters_description="",
        generated_at=_generated(),
    )
    (artifacts / "portfolio.pdf").write_bytes(pdf)
    for index in range(4):
        save_page(pdf, index, artifacts, f"page-{index + 1}")
    # No near-empty pages (issue 16): every page between the cover and the last is printed at least half-way down
    # (chapters, and "About this report" after them, flow on; a diagram kept whole may still leave a page's foot blank).
    fills = [round(page_fill(page_image(pdf, index, scale=0.5)), 2) for index in range(1, len(pdf_pages_text(pdf)) - 1)]
    assert min(fills) >= 0.5, fills
    pages = [folded(p) for p in pdf_pages_text(pdf)]
    contents = next(i for i, p in enumerate(pages) if "Contents Summary across threat models" in p)
    summary = next(i for i, p in enumerate(pages) if p.startswith("Summary across threat models"))
    assert summary == 1 and contents >= summary  # cover, the executive summary, then the contents
    executive = " ".join(pages[summary : contents + 1]).split("Contents Summary across threat models")[0]
    assert "What to do next" in executive and "Threat models by risk" in executive

    # Models in the order of their risk score (highest first, then name), computed from the sandbox.
    expected = [tm["name"] for tm in sorted(models, key=lambda tm: (-_risk(tm), tm["name"].lower()))]
    starts = [next(i for i, p in enumerate(pages) if i > contents and f"{name} Summary" in p) for name in expected]
    assert starts == sorted(starts), list(zip(expected, starts))
    ranked = executive[executive.index("Threat models by risk") :]
    positions = [ranked.index(name) for name in expected]
    assert positions == sorted(positions)
    for tm in models:  # each model's score, as the table prints it, from the sandbox's state
        assert re.search(rf"{re.escape(tm['name'])} .*? {_risk(tm)}\b", ranked), tm["name"]

    # The cover names neither the TMI server nor any id; the report ends saying where the data came from.
    assert sandbox.base_url not in pages[0] and not any(tm["id"] in pages[0] for tm in models)
    ending = " ".join(pages[-2:])
    assert "About this report" in ending
    about = ending[ending.index("About this report") :].replace("/ ", "/")
    assert sandbox.base_url in about
    assert all(tm["id"] in about.replace(" ", "") for tm in models)

    # What to do next: the counts the summary states, from the sandbox's state.
    now = datetime.now(UTC)
    critical_old = [
        t
        for tm in models
        for t in tm["threats"]
        if _open(t)
        and severity_key(t.get("severity")) == "critical"
        and datetime.fromisoformat(t["created_at"].replace("Z", "+00:00")) < now - timedelta(days=30)
    ]
    finished = [
        t
        for tm in models
        if term_key(tm.get("status")) in ("closed", "approved")
        for t in tm["threats"]
        if _open(t) and severity_key(t.get("severity")) in ("critical", "high")
    ]
    act_now = [t for tm in models for t in tm["threats"] if _open(t) and ssvc_decision_key(t) in ACT_NOW_DECISIONS]
    assert critical_old and finished  # the seed holds both, in both generations
    assert f"{len(critical_old)} critical threat" in executive
    assert f"{len(finished)} open critical or high threat" in executive
    if sandbox.state.config.is_legacy:
        assert not act_now and "SSVC" not in executive and "security reviewer" not in executive
    else:
        assert act_now and f"{len(act_now)} open threat" in executive and "SSVC decision to act now" in executive
        no_reviewer = [tm for tm in models if not tm.get("security_reviewer")]
        assert no_reviewer and f"{len(no_reviewer)} threat model" in executive
        assert all(tm["name"] in executive for tm in no_reviewer)
    # Models unchanged for 90 days: every seeded one (the seed's dates are in January 2026).
    assert f"{len(models)} threat models have not changed for 90 days or more" in executive


def test_threat_model_report_summary_first_and_tmi_score_labelled(sandbox, organization, alice, artifacts):
    tm = find_model(sandbox, PAYMENTS)
    pdf = threat_model_report_pdf(
        report_read(organization, alice, tm["id"]), organization=organization, generated_at=_generated()
    )
    (artifacts / "report.pdf").write_bytes(pdf)
    for index in range(3):
        save_page(pdf, index, artifacts, f"page-{index + 1}")
    pages = [folded(p) for p in pdf_pages_text(pdf)]
    contents = next(i for i, p in enumerate(pages) if "Contents Summary" in p)
    assert pages[1].startswith("Summary") and contents >= 1  # the summary, then the contents
    assert sandbox.base_url not in pages[0] and tm["id"] not in pages[0]
    assert "About this report" in pages[-1] and tm["id"] in pages[-1].replace(" ", "")
    text = pdf_text(pdf)
    # The per-threat score is TMI's, and says so; each of the model's scores is printed as TMI holds it.
    assert "TMI score" in text and "Score Mitigation" not in text
    scores = Counter(str(t["score"]) for t in tm["threats"] if t.get("score") is not None)
    threats_text = text[text.index("Open threats first") :]
    for score, count in scores.items():
        assert len(re.findall(rf"(?<![\d.]){re.escape(score)}(?![\d.])", threats_text)) >= count, score
    # The legend covers every severity, informational included.
    assert "0 if informational" in text and "1 if low or not rated" in text
    # What to do next about this model, in the summary (before the contents).
    summary = " ".join(pages[1 : contents + 1]).split("Contents Summary")[0]
    assert "What to do next" in summary and "Nothing in it has changed for" in summary
