"""The overview is kept in the shared cache per member and state of the store (issue 15: the overview of 1,000
models is the heaviest page read): a second view reads the cache, and any write of the sync gives a new key,
so a change in TMI shows as soon as the store has it."""

from __future__ import annotations

import pytest

from portal.portfolio import selectors
from portal.portfolio.sync import portfolio_sync
from tests.dashboard.conftest import find_model

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_overview_is_computed_once_per_state_of_the_store(organization, owner, sandbox, tmi_as, monkeypatch):
    portfolio_sync(organization, members={owner.pk})
    computed = []
    real = selectors.portfolio_overview_get

    def counting(**kwargs):
        computed.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(selectors, "portfolio_overview_get", counting)
    first = selectors.portfolio_overview_cached(organization=organization, user=owner)
    again = selectors.portfolio_overview_cached(organization=organization, user=owner)
    assert again == first == real(organization=organization, user=owner) and len(computed) == 1

    tm = find_model(sandbox, "Customer Payments API")
    alice = tmi_as("alice")
    alice.threats.create(tm["id"], {"name": "A new critical one", "severity": "critical", **_type(alice)})
    portfolio_sync(organization, members={owner.pk}, full=False)
    after = selectors.portfolio_overview_cached(organization=organization, user=owner)
    assert len(computed) == 2  # the sync's write changed the key
    assert after == real(organization=organization, user=owner)
    assert after.open_total == first.open_total + 1

    other = selectors.portfolio_overview_cached(organization=organization, user=None)  # nobody's set: nothing
    assert other.total == 0 and len(computed) == 3  # another member's (or the service account's) key is its own


def _type(client) -> dict:
    legacy = client.server_info().generation == "0.217"
    return {"threat_type": "Spoofing" if legacy else ["Spoofing"]}
