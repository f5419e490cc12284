"""`demo_seed` creates the demo's tenants and members once, whatever the number of runs."""

import pytest
from django.contrib.auth import get_user_model
from social_django.models import UserSocialAuth

from portal.devtools.demo_seed import demo_seed, demo_sign_in_hint
from portal.organizations.models import Membership, Organization, Role

SANDBOX = "http://127.0.0.1:8080"


def memberships() -> set[tuple[str, str, str]]:
    return set(Membership.objects.values_list("organization__slug", "user__username", "role"))


@pytest.mark.django_db
def test_seeds_acme_and_globex_on_the_sandbox():
    demo_seed(tmi_url=SANDBOX)

    assert dict(Organization.objects.values_list("slug", "tmi_base_url")) == {"acme": SANDBOX, "globex": SANDBOX}
    assert memberships() == {
        ("acme", "alice", Role.OWNER),
        ("acme", "bob", Role.MEMBER),
        ("globex", "carol", Role.OWNER),
    }
    alice = get_user_model().objects.get(username="alice")
    assert alice.email == "alice@tmi.local"  # what the 1.8 test IdP reports for the hint
    assert not alice.has_usable_password()
    # The TMI identity the sign-in pipeline looks people up by: server, provider, subject.
    assert set(UserSocialAuth.objects.values_list("provider", "uid", "user__username")) == {
        ("tmi", f"{SANDBOX}#tmi:{hint}", hint) for hint in ("alice", "bob", "carol")
    }


@pytest.mark.django_db
def test_running_twice_duplicates_nothing_and_follows_the_sandbox():
    demo_seed(tmi_url=SANDBOX)
    demo_seed(tmi_url="http://127.0.0.1:9090", tmi_version="0.217")

    assert Organization.objects.count() == 2
    assert get_user_model().objects.count() == 3
    assert Membership.objects.count() == 3
    assert set(Organization.objects.values_list("tmi_base_url", flat=True)) == {"http://127.0.0.1:9090"}
    assert get_user_model().objects.get(username="carol").email == "carol@test.tmi"
    assert UserSocialAuth.objects.get(uid="http://127.0.0.1:9090#test:carol").user.username == "carol"


@pytest.mark.django_db
def test_running_again_resets_a_changed_role_to_the_demo_role():
    demo_seed(tmi_url=SANDBOX)
    Membership.objects.filter(user__username="bob").update(role=Role.ADMIN)

    demo_seed(tmi_url=SANDBOX)

    assert Membership.objects.get(user__username="bob").role == Role.MEMBER


def test_sign_in_hint_names_both_organisations_and_their_people():
    hint = demo_sign_in_hint(portal_url="http://127.0.0.1:8000")

    assert "http://127.0.0.1:8000/o/acme/" in hint and "http://127.0.0.1:8000/o/globex/" in hint
    assert "alice (owner)" in hint and "bob (member)" in hint and "carol" in hint
