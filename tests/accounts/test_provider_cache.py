"""The public sign-in page does not make the portal call TMI on every view: the provider list is kept per
organisation and TMI address (PORTAL_TMI_PROVIDERS_CACHE_SECONDS), a failure for a few seconds."""

import json

import httpx
import pytest
from django.test import Client

from tests.sandbox.helpers import add_fault

pytestmark = pytest.mark.django_db


def providers_counter(base_url: str):
    """A fault that only counts the sandbox's GET /oauth2/providers (no latency, no status): its hits."""
    counter = add_fault(base_url, path_prefix="/oauth2/providers", method="GET")

    def asked() -> int:
        faults = httpx.get(f"{base_url}/_sandbox/faults").json()["faults"]
        return next(f["hits"] for f in faults if f["id"] == counter["id"])

    return asked


def test_five_anonymous_views_ask_tmi_once(organization, sandbox, generation):
    asked = providers_counter(sandbox.base_url)
    for _ in range(5):
        page = Client().get("/o/acme/login/")
        assert page.status_code == 200 and 'name="login_hint"' in page.content.decode()
    assert asked() == 1


def test_a_new_tmi_address_is_asked_at_once(organization, sandbox, sandbox_factory, generation):
    first = providers_counter(sandbox.base_url)
    assert Client().get("/o/acme/login/").status_code == 200
    moved = sandbox_factory(generation)
    second = providers_counter(moved.base_url)
    organization.tmi_base_url = moved.base_url
    organization.save()
    assert Client().get("/o/acme/login/").status_code == 200
    assert (first(), second()) == (1, 1)


def fault_hits(base_url: str, fault_id: int) -> int:
    return next(f["hits"] for f in httpx.get(f"{base_url}/_sandbox/faults").json()["faults"] if f["id"] == fault_id)


def test_the_organisations_own_choice_applies_without_asking_again(organization, sandbox, generation):
    listed = [
        {"id": name, "name": name.title(), "auth_url": f"/oauth2/authorize?idp={name}"} for name in ("google", "github")
    ]
    answer = add_fault(
        sandbox.base_url,
        path_prefix="/oauth2/providers",
        method="GET",
        status=200,
        body=json.dumps({"providers": listed}),
    )
    everything = Client().get("/o/acme/login/").content.decode()
    assert 'value="github"' in everything and 'value="google"' in everything
    organization.identity_providers = ["github"]
    organization.save()
    chosen = Client().get("/o/acme/login/").content.decode()
    assert 'value="github"' in chosen and 'value="google"' not in chosen
    assert fault_hits(sandbox.base_url, answer["id"]) == 1


def test_a_failing_tmi_is_not_asked_on_every_view(organization, sandbox, generation, settings):
    settings.TMI_MAX_RETRIES = 0  # one question per view, so the count is the number of views that asked
    failing = add_fault(sandbox.base_url, path_prefix="/oauth2/providers", method="GET", status=503)
    for _ in range(3):
        assert Client().get("/o/acme/login/").status_code == 503
    assert fault_hits(sandbox.base_url, failing["id"]) == 1
