"""Scheduled exports that run with the organisation's TMI client credentials (a 1.8 service account)
instead of a member's access, and what happens when TMI refuses them or has none (0.217)."""

from __future__ import annotations

import io
from datetime import time
from pathlib import Path

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from pypdf import PdfReader

from portal.accounts.vault import tmi_client
from portal.audit.models import AuditEvent
from portal.exports.models import ExportStatus
from portal.exports.running import export_job_run
from portal.exports.schedules import export_schedule_create, export_schedule_run_now
from portal.sandbox.seed import sid
from portal.tenant_admin.services import organization_client_credentials_clear, organization_client_credentials_set

PAYMENTS = "Customer Payments API"
SCHEDULE = {
    "name": "Nightly payments report",
    "kind": "threat_model",
    "threat_model_id": sid("tm", PAYMENTS),
    "frequency": "daily",
    "time_of_day": time(2, 0),
    "timezone": "UTC",
    "recipients": ["bob@example.com"],
}
REFUSED = "TMI refused the organisation's client credentials; an admin must replace them."


@pytest.fixture
def sandbox(sandbox_factory, generation):
    """The seeded sandbox with alice among TMI's administrators: only administrators and security reviewers
    may create client credentials (the real 1.8.22 answers anyone else 403)."""
    return sandbox_factory(generation, administrators=["alice"])


def _service_schedule(organization, owner, admin, member):
    """Only an owner may choose the service account: alice saves it."""
    return export_schedule_create(organization=organization, actor=owner, run_as="client_credentials", **SCHEDULE)


def _failure_mail():
    return [m for m in mail.outbox if "failed" in m.subject]


@pytest.mark.parametrize("generation", ["1.8"])
def test_a_schedule_runs_as_the_organisations_service_account(
    organization, owner, admin, member, sandbox, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    with tmi_client(organization=organization, user=owner) as alice:
        credential = alice.auth.client_credentials_create("TMI Portal schedules", description="acme exports")
    organization_client_credentials_set(
        organization=organization,
        actor=owner,
        client_id=credential.client_id,
        client_secret=credential.client_secret,
    )
    organization.refresh_from_db()
    schedule = _service_schedule(organization, owner, admin, member)
    # The saver's own TMI access is gone: if the run used it, it would fail.
    owner.tmi_connections.update(needs_sign_in=True)
    seen = sandbox.app.state.sandbox.seen_subjects
    seen.clear()

    job = export_schedule_run_now(schedule=schedule, actor=owner)
    assert export_job_run(job.pk).action == "done"
    job.refresh_from_db()
    assert job.status == ExportStatus.SUCCEEDED, job.error
    data = Path(job.file.path).read_bytes()
    assert data.startswith(b"%PDF")
    assert PAYMENTS in "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)
    # Every TMI call of the run was made as the service account of alice's credential.
    assert seen and all(sub.startswith(f"sa:{credential.id}:") for sub in seen), list(seen)
    # And the PDF was read through the service account's visible set (TMI's list for it), not a member's.
    from portal.portfolio.models import VisibleModel

    assert VisibleModel.objects.filter(
        visible_set__organization=organization,
        visible_set__user__isnull=True,
        visible_set__read_at__isnull=False,
        threat_model__tmi_id=sid("tm", PAYMENTS),
    ).exists()
    assert [m.to for m in mail.outbox if "ready" in m.subject] == [["bob@example.com"]]


@pytest.mark.parametrize("generation", ["1.8"])
def test_refused_credentials_fail_in_words_and_tell_the_owner_and_admins(
    organization, owner, admin, member, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    organization_client_credentials_set(
        organization=organization, actor=owner, client_id="tmi_cc_revoked", client_secret="not-valid-any-more"
    )
    organization.refresh_from_db()
    schedule = _service_schedule(organization, owner, admin, member)
    job = export_schedule_run_now(schedule=schedule, actor=owner)
    assert export_job_run(job.pk).action == "failed"
    job.refresh_from_db()
    assert job.status == ExportStatus.FAILED and job.error == REFUSED
    assert job.attempts == 1  # refused credentials are not "TMI is busy": no retries
    assert not list(Path(tmp_path).rglob("*.pdf"))
    [message] = _failure_mail()
    assert REFUSED in message.body
    assert set(message.to) == {"alice@example.com", "carol@example.com"}  # who saved it + the admins
    assert AuditEvent.objects.filter(action="schedule.run_failed", organization=organization).count() == 1
    assert "not-valid-any-more" not in "".join(str(e.details) for e in AuditEvent.objects.all())


@pytest.mark.parametrize("generation", ["0.217"])
def test_tmi_0217_has_no_client_credentials_and_the_run_says_so(organization, owner, admin, member, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    organization_client_credentials_set(
        organization=organization, actor=owner, client_id="tmi_cc_anything", client_secret="secret"
    )
    organization.refresh_from_db()
    job = export_schedule_run_now(schedule=_service_schedule(organization, owner, admin, member), actor=owner)
    assert export_job_run(job.pk).action == "failed"
    job.refresh_from_db()
    assert job.status == ExportStatus.FAILED
    assert "does not support client credentials" in job.error and "run as its owner" in job.error
    assert _failure_mail() and "does not support client credentials" in _failure_mail()[0].body


@pytest.mark.parametrize("generation", ["1.8"])
def test_client_credentials_need_stored_credentials(organization, owner, admin, member, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    with pytest.raises(ValidationError) as refused:
        _service_schedule(organization, owner, admin, member)
    assert "no TMI client credentials" in refused.value.message_dict["run_as"][0]
    organization_client_credentials_set(organization=organization, actor=owner, client_id="tmi_cc_x", client_secret="s")
    organization.refresh_from_db()
    schedule = _service_schedule(organization, owner, admin, member)
    # Removed after the schedule was made: the run fails in words instead of running as someone else.
    organization_client_credentials_clear(organization=organization, actor=owner)
    job = export_schedule_run_now(schedule=schedule, actor=owner)
    assert export_job_run(job.pk).action == "failed"
    job.refresh_from_db()
    assert "none are stored" in job.error and "an admin must add them" in job.error


def test_the_admin_check_says_whether_stored_credentials_work(sandbox, generation, alice_tokens_for_check):
    from portal.tenant_admin.connection import tmi_client_credentials_check

    if generation == "0.217":
        works, words = tmi_client_credentials_check(base_url=sandbox.base_url, client_id="tmi_cc_x", client_secret="s")
        assert not works and "does not support client credentials" in words
        return
    credential = alice_tokens_for_check.auth.client_credentials_create("check")
    assert tmi_client_credentials_check(
        base_url=sandbox.base_url, client_id=credential.client_id, client_secret=credential.client_secret
    )[0]
    works, words = tmi_client_credentials_check(
        base_url=sandbox.base_url, client_id=credential.client_id, client_secret="wrong"
    )
    assert not works and "refused" in words
    works, words = tmi_client_credentials_check(base_url=sandbox.base_url, client_id="", client_secret="")
    assert not works and "No client credentials" in words


@pytest.fixture
def alice_tokens_for_check(sandbox):
    from portal.tmi import TMIClient, TokenPair
    from tests.sandbox.helpers import login

    with TMIClient(sandbox.base_url, auth=TokenPair(**login(sandbox.base_url, "alice")), timeout=10) as client:
        yield client
