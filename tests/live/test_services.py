"""What a live socket asks of the portfolio store when it opens and when it closes."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.live import services
from portal.portfolio.models import StoredThreatModel


@pytest.fixture
def asks(monkeypatch, settings):
    """The syncs really asked for (the real request, sent to the queue only if its transaction commits)."""
    settings.PORTAL_SYNC_INLINE = False
    made = []
    real = services.portfolio_sync_request

    def counted(organization, **kwargs):
        made.append(kwargs["models"])
        return real(organization, **kwargs)

    monkeypatch.setattr(services, "portfolio_sync_request", counted)
    return made


def test_ten_people_opening_a_model_ask_for_one_sync_and_each_leaving_asks_again(organization, asks):
    model = StoredThreatModel.objects.create(organization=organization, tmi_id=str(uuid.uuid4()), name="Payments")
    for _ in range(10):
        services.live_model_sync_ask(organization=organization, threat_model_id=model.tmi_id, opening=True)
    assert asks == [{model.tmi_id}]
    model.refresh_from_db()
    assert model.sync_requested_at is not None

    for _ in range(2):  # what was drawn must reach the pages: leaving is never skipped
        services.live_model_sync_ask(organization=organization, threat_model_id=model.tmi_id, opening=False)
    assert len(asks) == 3

    StoredThreatModel.objects.filter(pk=model.pk).update(
        sync_requested_at=timezone.now() - timedelta(seconds=services.LIVE_OPEN_SYNC_SECONDS + 1)
    )
    services.live_model_sync_ask(organization=organization, threat_model_id=model.tmi_id, opening=True)
    assert len(asks) == 4


def test_a_recent_ask_in_another_organisation_does_not_count(organization, other_organization, asks):
    tmi_id = str(uuid.uuid4())
    StoredThreatModel.objects.create(organization=other_organization, tmi_id=tmi_id, sync_requested_at=timezone.now())
    StoredThreatModel.objects.create(organization=organization, tmi_id=tmi_id)
    services.live_model_sync_ask(organization=organization, threat_model_id=tmi_id, opening=True)
    assert asks == [{tmi_id}]


@pytest.mark.django_db(transaction=True)
async def test_a_model_not_yet_in_the_store_opened_by_many_asks_once(organization, other_organization, asks):
    """The rows' own check only knows models already stored: the socket's side keeps what this process asked."""
    import asyncio

    tmi_id = str(uuid.uuid4())
    await asyncio.gather(
        *(
            services.alive_model_sync_ask(organization=organization, threat_model_id=tmi_id, opening=True)
            for _ in range(10)
        )
    )
    assert asks == [{tmi_id}]
    await services.alive_model_sync_ask(organization=organization, threat_model_id=tmi_id, opening=False)
    assert asks == [{tmi_id}, {tmi_id}]  # leaving always asks
    await services.alive_model_sync_ask(organization=other_organization, threat_model_id=tmi_id, opening=True)
    assert len(asks) == 3  # another organisation's model of the same id is its own
