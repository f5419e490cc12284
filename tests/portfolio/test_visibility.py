"""Who sees what: TMI decides, per member (their visible set). Selectors and pages, both generations, real sandbox."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.accounts.models import TMIConnection
from portal.accounts.signout import tmi_connection_end
from portal.accounts.vault import SignInRequired, tmi_tokens_refresh
from portal.portfolio import selectors
from portal.portfolio.models import StoredThreatModel, VisibleModel, VisibleSet
from portal.portfolio.sync import portfolio_sync
from portal.tmi import TMIClient
from tests.dashboard.conftest import sign_in
from tests.portfolio.conftest import readable_ids

pytestmark = pytest.mark.django_db(transaction=True)


def _seen_by_selectors(organization, user) -> set[str]:
    overview = selectors.portfolio_overview_get(organization=organization, user=user)
    listing = selectors.threat_model_list_get(organization=organization, user=user, page_size=1000)
    ids = {row.id for row in listing.rows}
    assert overview.total == len(ids) == listing.total
    return ids


def _every_stored(organization) -> set[str]:
    return set(StoredThreatModel.objects.filter(organization=organization).values_list("tmi_id", flat=True))


def test_two_members_never_see_each_others_models_through_the_selectors(organization, owner, member_factory, sandbox):
    dave = member_factory(organization, "dave")
    report = portfolio_sync(organization, members={owner.pk, dave.pk})
    assert report.sets_read == 2 and not report.errors
    alice_ids, dave_ids = readable_ids(sandbox, "alice"), readable_ids(sandbox, "dave")
    assert alice_ids - dave_ids and dave_ids - alice_ids  # each may see models the other may not
    assert _every_stored(organization) == alice_ids | dave_ids  # the store holds both
    assert _seen_by_selectors(organization, owner) == alice_ids
    assert _seen_by_selectors(organization, dave) == dave_ids
    for tm_id in alice_ids - dave_ids:
        assert selectors.threat_model_detail_get(organization=organization, user=dave, threat_model_id=tm_id) is None
        assert selectors.threat_model_detail_get(organization=organization, user=owner, threat_model_id=tm_id)
    for tm_id in dave_ids - alice_ids:
        assert selectors.threat_model_detail_get(organization=organization, user=owner, threat_model_id=tm_id) is None
        assert selectors.threat_model_detail_get(organization=organization, user=dave, threat_model_id=tm_id)


def _page(client, name: str, *args):
    return client.get(reverse(f"dashboard:{name}", args=["acme", *args]))


def test_two_members_never_see_each_others_models_on_the_pages(client, organization, owner, member_factory, sandbox):
    dave = member_factory(organization, "dave")
    names = {tm["id"]: tm["name"] for tm in sandbox.state.threat_models.values()}
    for user, hint, other in ((owner, "alice", "dave"), (dave, "dave", "alice")):
        client.logout()
        sign_in(client, user)
        mine, theirs = readable_ids(sandbox, hint), readable_ids(sandbox, other) - readable_ids(sandbox, hint)
        overview = _page(client, "portfolio")  # the first visit reads the member's set (inline in tests)
        assert overview.status_code == 200 and overview.context["portfolio"].total == len(mine)
        listing = _page(client, "threat_models")
        html = listing.content.decode()
        assert {row.id for row in listing.context["listing"].rows} == mine
        assert all(names[tm_id] not in html for tm_id in theirs)
        for tm_id in theirs:
            assert _page(client, "threat_model", tm_id).status_code == 404
        some = sorted(mine)[0]
        assert _page(client, "threat_model", some).status_code == 200
    assert _every_stored(organization) == readable_ids(sandbox, "alice") | readable_ids(sandbox, "dave")


def _remove_from_acl(sandbox, owner_client: TMIClient, tm_id: str, hint: str) -> None:
    tm = sandbox.state.threat_models[tm_id]
    user = sandbox.state.find_user(hint)
    acl = [e for e in tm["authorization"] if e.get("provider_id") not in (user.provider_id, user.email)]
    model = owner_client.threat_models.get(tm_id)
    owner_client.threat_models.update(
        tm_id, name=model.name, description=model.description, threat_model_framework="STRIDE", authorization=acl
    )
    assert tm_id not in readable_ids(sandbox, hint)


def test_access_removed_in_tmi_disappears_once_the_set_is_read_again(client, organization, owner, sandbox, tmi_as):
    sign_in(client, owner)
    tm_id = next(tm["id"] for tm in sandbox.state.threat_models.values() if tm["name"] == "Mobile Banking App")
    assert _page(client, "threat_model", tm_id).status_code == 200  # alice reads bob's model
    _remove_from_acl(sandbox, tmi_as("bob"), tm_id, "alice")
    # Within PORTAL_VISIBLE_SET_SECONDS the set stands (no TMI call on a page view).
    assert tm_id in _seen_by_selectors(organization, owner)
    VisibleSet.objects.filter(user=owner).update(read_at=timezone.now() - timedelta(seconds=61))
    assert _page(client, "portfolio").status_code == 200  # the stale set is read again (inline in tests)
    assert tm_id not in _seen_by_selectors(organization, owner)
    assert _page(client, "threat_model", tm_id).status_code == 404
    assert StoredThreatModel.objects.get(tmi_id=tm_id).gone_at is None  # only alice's access went


def test_signing_out_drops_the_members_set(organization, owner, member, sandbox):
    portfolio_sync(organization, members={owner.pk, member.pk})
    tmi_connection_end(organization=organization, user=owner)
    assert not VisibleSet.objects.filter(user=owner).exists()
    assert not VisibleModel.objects.filter(visible_set__user=owner).exists()
    assert _seen_by_selectors(organization, owner) == set()
    assert _seen_by_selectors(organization, member) == readable_ids(sandbox, "bob")  # bob's stands


def test_a_refused_refresh_drops_the_members_set(organization, owner, member, sandbox):
    portfolio_sync(organization, members={owner.pk, member.pk})
    connection = TMIConnection.objects.get(user=owner)
    with TMIClient(sandbox.base_url) as raw:  # someone spends alice's refresh token behind the portal's back
        raw.auth.refresh(connection.refresh_token)
    with pytest.raises(SignInRequired):
        tmi_tokens_refresh(connection_id=connection.pk)
    assert not VisibleSet.objects.filter(user=owner).exists()
    assert _seen_by_selectors(organization, owner) == set()
    assert _seen_by_selectors(organization, member) == readable_ids(sandbox, "bob")
    report = portfolio_sync(organization, members={owner.pk, member.pk})
    assert report.readers == 1 and not VisibleSet.objects.filter(user=owner, read_at__isnull=False).exists()


def test_a_member_removed_from_the_organisation_is_not_a_reader(organization, owner, member, sandbox):
    portfolio_sync(organization, members={owner.pk, member.pk})
    organization.memberships.filter(user=member).delete()
    report = portfolio_sync(organization)
    assert report.readers == 1
    assert not VisibleSet.objects.filter(user=member).exists()
    assert _seen_by_selectors(organization, member) == set()
    report = portfolio_sync(organization, members={member.pk})  # even asked for by name
    assert report.readers == 1 and not VisibleSet.objects.filter(user=member).exists()


def test_an_inactive_member_removed_from_the_organisation_loses_their_set(organization, owner, member, sandbox):
    portfolio_sync(organization, members={owner.pk, member.pk})
    VisibleSet.objects.filter(user=member).update(wanted_at=None)  # bob has not opened a page lately
    organization.memberships.filter(user=member).delete()
    portfolio_sync(organization)
    assert not VisibleSet.objects.filter(user=member).exists()
    assert _seen_by_selectors(organization, member) == set()


def test_an_unknown_model_id_is_not_found_for_everyone(client, organization, owner, sandbox):
    sign_in(client, owner)
    assert _page(client, "portfolio").status_code == 200
    assert _page(client, "threat_model", str(uuid.uuid4())).status_code == 404


def test_a_set_nobody_kept_fresh_shows_nothing_until_tmi_answers_again(
    client, organization, owner, sandbox, tmi_as, settings
):
    """Alice was away (her set was not read for longer than PORTAL_ACTIVE_MEMBER_SECONDS) and bob removed her
    access meanwhile: her first page must not show his model while the worker reads her set again."""
    sign_in(client, owner)
    tm_id = next(tm["id"] for tm in sandbox.state.threat_models.values() if tm["name"] == "Mobile Banking App")
    assert _page(client, "threat_model", tm_id).status_code == 200
    _remove_from_acl(sandbox, tmi_as("bob"), tm_id, "alice")
    away = timezone.now() - timedelta(seconds=settings.PORTAL_ACTIVE_MEMBER_SECONDS + 1)
    VisibleSet.objects.filter(user=owner).update(read_at=away, wanted_at=away)
    settings.PORTAL_SYNC_INLINE = False  # the re-read is the worker's: it has not run yet
    response = _page(client, "threat_model", tm_id)
    assert "Mobile Banking App" not in response.content.decode()
    assert _seen_by_selectors(organization, owner) == set()
    settings.PORTAL_SYNC_INLINE = True  # the worker's pass, here
    assert _page(client, "portfolio").context["portfolio"].total == len(readable_ids(sandbox, "alice"))
    assert tm_id not in _seen_by_selectors(organization, owner)
    assert _page(client, "threat_model", tm_id).status_code == 404
