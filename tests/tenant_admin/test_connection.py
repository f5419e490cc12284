"""'Test connection': reachability, generation, version, providers and timing, or the trouble in words."""

from __future__ import annotations

import re

import httpx
import pytest
import respx
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.organizations.models import Membership, Role
from portal.sandbox.config import SERVER_BUILDS
from portal.tenant_admin.connection import tmi_client_credentials_check, tmi_server_check
from tests.sandbox.helpers import add_fault, count_requests_afresh, requests_seen
from tests.tenant_admin.conftest import DEAD_TMI, client_for
from tests.tmi.listeners import redirect_to


def test_a_running_tmi_reports_its_generation_version_and_providers(sandbox, generation):
    report = tmi_server_check(base_url=sandbox.base_url)
    assert report.reachable and report.problem == ""
    assert report.generation == generation
    assert report.version and report.version in SERVER_BUILDS[generation]
    test_idp = "tmi" if generation == "1.8" else "test"
    assert test_idp in [provider_id for provider_id, _ in report.providers]
    assert 0 <= report.elapsed_ms < 5000
    assert f"generation {generation}" in report.summary and "ms" in report.summary


def test_nothing_listening_is_a_refused_connection():
    report = tmi_server_check(base_url="http://127.0.0.1:9")
    assert not report.reachable and report.problem == "refused"
    assert "refused" in report.summary


def test_an_unknown_name_is_a_dns_failure():
    report = tmi_server_check(base_url="http://tmi.invalid")
    assert not report.reachable and report.problem == "dns"
    assert "DNS" in report.summary


def test_a_server_that_does_not_answer_in_time_is_a_timeout(sandbox_factory):
    sandbox = sandbox_factory("1.8")
    add_fault(sandbox.base_url, path_prefix="/", method="GET", latency_ms=3000, times=1)
    report = tmi_server_check(base_url=sandbox.base_url, timeout=0.5)
    assert not report.reachable and report.problem == "timeout"
    assert "in time" in report.summary


def test_a_tmi_in_trouble_says_so(sandbox_factory):
    sandbox = sandbox_factory("0.217")
    add_fault(sandbox.base_url, path_prefix="/oauth2/providers", method="GET", status=503, times=1)
    report = tmi_server_check(base_url=sandbox.base_url)
    assert not report.reachable and report.problem == "error" and "503" in report.summary


@pytest.mark.parametrize(
    "status, problem, words",
    [
        (401, "error", "answered with an error (status 401)"),
        (403, "error", "answered with an error (status 403)"),
        (409, "error", "answered with an error (status 409)"),
        (502, "error", "answered with an error (status 502)"),
        (404, "not_tmi", "(status 404), but it does not look like a TMI server"),
        (405, "not_tmi", "(status 405), but it does not look like a TMI server"),
        (501, "not_tmi", "(status 501), but it does not look like a TMI server"),
    ],
)
def test_each_kind_of_refusal_has_its_problem_and_words(sandbox_factory, status, problem, words):
    """The check's words come from the kind of failure (accounts/tmi_failures.py, CONNECTION_CHECK)."""
    sandbox = sandbox_factory("1.8")
    add_fault(sandbox.base_url, path_prefix="/oauth2/providers", method="GET", status=status, times=1)
    report = tmi_server_check(base_url=sandbox.base_url)
    assert not report.reachable and report.problem == problem and words in report.summary


def test_the_credentials_check_says_each_kind_in_its_words(sandbox_factory):
    sandbox = sandbox_factory("1.8")
    add_fault(sandbox.base_url, path_prefix="/oauth2/token", method="POST", status=503, retry_after=0, times=1)
    works, words = tmi_client_credentials_check(base_url=sandbox.base_url, client_id="tmi_cc_x", client_secret="s")
    assert not works and words == "The client credentials could not be checked (ServiceUnavailable)."
    works, words = tmi_client_credentials_check(base_url=sandbox.base_url, client_id="tmi_cc_x", client_secret="s")
    assert not works and words.startswith("TMI refused the stored client credentials")
    legacy = sandbox_factory("0.217")
    works, words = tmi_client_credentials_check(base_url=legacy.base_url, client_id="tmi_cc_x", client_secret="s")
    assert not works and "does not support client credentials" in words


@respx.mock
def test_a_web_page_that_is_not_tmi_is_named_as_such():
    respx.get("http://intranet.example/").mock(
        return_value=httpx.Response(200, html="<html><body>Welcome to the intranet</body></html>")
    )
    report = tmi_server_check(base_url="http://intranet.example")
    assert not report.reachable and report.problem == "not_tmi"
    assert "does not look like a TMI server" in report.summary


@respx.mock
def test_a_json_api_that_is_not_tmi_is_named_as_such():
    respx.get("http://api.example/").mock(return_value=httpx.Response(200, json={"hello": "world"}))
    respx.get("http://api.example/oauth2/providers").mock(return_value=httpx.Response(404, json={"error": "nope"}))
    report = tmi_server_check(base_url="http://api.example")
    assert not report.reachable and report.problem == "not_tmi"


@pytest.mark.django_db
def test_the_button_reports_on_the_page_and_in_the_log(world, sandbox, generation):
    world.acme.tmi_base_url = sandbox.base_url
    world.acme.save()
    page = client_for(world.users["admin"]).post(
        reverse("tenant_admin:connection_test", args=["acme"]), {"tmi_base_url": ""}
    )
    html = page.content.decode()
    assert page.status_code == 200
    assert f'<dd id="report-generation">{generation}</dd>' in html and "Reachable" in html
    event = AuditEvent.objects.get(action="organization.tmi_tested")
    assert event.details["reachable"] is True and event.details["generation"] == generation


@pytest.mark.django_db
def test_the_settings_page_offers_the_servers_providers_as_checkboxes(world, sandbox_factory):
    sandbox = sandbox_factory("1.8")
    world.acme.tmi_base_url = sandbox.base_url
    world.acme.identity_providers = ["tmi"]
    world.acme.save()
    html = client_for(world.users["owner"]).get(reverse("tenant_admin:connection", args=["acme"])).content.decode()
    boxes = dict(re.findall(r'<input type="checkbox" name="identity_providers" value="([^"]+)"([^>]*)>', html))
    assert "tmi" in boxes and "checked" in boxes["tmi"]  # the saved choice, ticked
    offered = [provider_id for provider_id, _ in tmi_server_check(base_url=sandbox.base_url).providers]
    assert sorted(boxes) == sorted(offered)  # one box per provider the server lists


@pytest.mark.parametrize("generation", ["1.8"])
def test_the_button_also_tries_the_stored_client_credentials(world, sandbox, generation):
    world.acme.tmi_base_url = sandbox.base_url
    world.acme.tmi_client_id, world.acme.tmi_client_secret = "tmi_cc_unknown", "not-a-secret"
    world.acme.save()
    page = client_for(world.users["admin"]).post(
        reverse("tenant_admin:connection_test", args=["acme"]), {"tmi_base_url": ""}
    )
    html = page.content.decode()
    assert '<dd id="report-credentials" class="is-bad">TMI refused the stored client credentials' in html
    assert AuditEvent.objects.get(action="organization.tmi_tested").details["credentials_work"] is False


# -- only the TMI servers the operator allows (PORTAL_TMI_ALLOWED_SERVERS) --------------------------------
NOT_ALLOWED = "This address is not allowed here."


def refused_addresses(port: int) -> list[str]:
    return [
        f"http://127.0.0.1:{port}",
        f"http://localhost:{port}",
        "http://169.254.169.254/",
        f"http://user:pw@127.0.0.1:{port}/",
    ]


@pytest.mark.django_db
def test_testing_an_address_the_operator_did_not_allow_opens_no_connection(world, listener, settings):
    settings.PORTAL_TMI_ALLOWED_SERVERS = ["public"]
    owner = client_for(world.users["owner"])
    for url in refused_addresses(listener.port):
        page = owner.post(reverse("tenant_admin:connection_test", args=["acme"]), {"tmi_base_url": url})
        html = page.content.decode()
        assert page.status_code == 200 and NOT_ALLOWED in html and "Not allowed" in html, url
        assert "Gave up after" not in html and "status" not in html.split(NOT_ALLOWED)[1][:200]
    assert listener.accepted == 0
    details = [event.details for event in AuditEvent.objects.filter(action="organization.tmi_tested")]
    assert [d["problem"] for d in details] == ["not_allowed"] * 4 and {d["elapsed_ms"] for d in details} == {0}


@pytest.mark.django_db
def test_saving_an_address_the_operator_did_not_allow_is_a_form_error(world, listener, settings):
    settings.PORTAL_TMI_ALLOWED_SERVERS = ["public"]
    owner = client_for(world.users["owner"])
    for url in refused_addresses(listener.port):
        page = owner.post(reverse("tenant_admin:connection", args=["acme"]), {"tmi_base_url": url})
        assert page.status_code == 400 and NOT_ALLOWED in page.content.decode(), url
    world.acme.refresh_from_db()
    assert world.acme.tmi_base_url == DEAD_TMI and listener.accepted == 0


@pytest.mark.django_db
def test_a_saved_address_refused_later_is_refused_where_it_is_used(world, listener, settings):
    # Saved while allowed (or before the operator changed the list, or DNS changed): the page's own check
    # and the button refuse it before connecting.
    world.acme.tmi_base_url = listener.url()
    world.acme.save()
    settings.PORTAL_TMI_ALLOWED_SERVERS = ["public"]
    owner = client_for(world.users["owner"])
    page = owner.get(reverse("tenant_admin:connection", args=["acme"]))
    assert page.status_code == 200 and NOT_ALLOWED in page.content.decode()
    tested = owner.post(reverse("tenant_admin:connection_test", args=["acme"]), {"tmi_base_url": ""})
    assert NOT_ALLOWED in tested.content.decode()
    assert listener.accepted == 0


def test_a_redirect_from_an_allowed_server_is_not_followed(listener_factory):
    target = listener_factory()
    redirector = listener_factory(redirect_to(target.url() + "/"))
    report = tmi_server_check(base_url=redirector.url())
    assert not report.reachable and redirector.accepted == 1 and target.accepted == 0


@pytest.mark.django_db
def test_test_connection_is_rate_limited_per_organisation_and_per_user(world, sandbox, generation, settings):
    settings.PORTAL_TMI_TESTS_PER_MINUTE = 5
    world.acme.tmi_base_url = world.globex.tmi_base_url = sandbox.base_url
    world.acme.save()
    world.globex.save()
    counter = add_fault(sandbox.base_url, path_prefix="/oauth2/providers", method="GET")  # counts, changes nothing

    def providers_asked() -> int:
        faults = httpx.get(f"{sandbox.base_url}/_sandbox/faults").json()["faults"]
        return next(f["hits"] for f in faults if f["id"] == counter["id"])

    def test(user, slug="acme"):
        return client_for(user).post(reverse("tenant_admin:connection_test", args=[slug]), {"tmi_base_url": ""})

    for _ in range(5):
        assert test(world.users["admin"]).status_code == 200
    asked = providers_asked()
    assert asked >= 5  # the test, and the page's own look at the saved server
    over = test(world.users["owner"])  # another admin of the same organisation: its allowance is spent
    assert over.status_code == 429
    assert "Too many connection tests: at most 5 a minute." in over.content.decode()
    assert providers_asked() == asked  # nothing at all was asked of TMI
    assert AuditEvent.objects.filter(action="organization.tmi_tested").count() == 5
    # The same user in another organisation: their own allowance is spent too.
    Membership.objects.create(organization=world.globex, user=world.users["admin"], role=Role.ADMIN)
    assert test(world.users["admin"], "globex").status_code == 429
    assert providers_asked() == asked
    assert test(world.users["outsider"], "globex").status_code == 200  # globex's own owner is not limited
    assert providers_asked() > asked


def test_viewing_the_admin_pages_does_not_ask_get_root_again(world, sandbox, generation):
    """GET / runs a real server's health checks and 0.217 allows it 10 times a minute per address: the
    connection and health pages show what the last Test connection learnt; only the button asks again."""
    world.acme.tmi_base_url = sandbox.base_url
    world.acme.save()
    admin = client_for(world.users["admin"])
    count_requests_afresh(sandbox.base_url)
    tested = admin.post(reverse("tenant_admin:connection_test", args=["acme"]), {"tmi_base_url": ""})
    assert f'<dd id="report-generation">{generation}</dd>' in tested.content.decode()
    assert requests_seen(sandbox.base_url, "GET /") == 1  # the button's own, not the page's again
    for view in ("tenant_admin:connection", "tenant_admin:health", "tenant_admin:connection"):
        page = admin.get(reverse(view, args=["acme"]))
        assert page.status_code == 200
        assert SERVER_BUILDS[generation].split("-")[0] in page.content.decode()  # the version, as last seen
    assert requests_seen(sandbox.base_url, "GET /") == 1


def test_a_tmi_that_limits_the_portal_is_not_said_to_be_in_trouble(sandbox_factory):
    sandbox = sandbox_factory("0.217")
    add_fault(sandbox.base_url, path_prefix="/", method="GET", status=429, retry_after=30, times=1)
    report = tmi_server_check(base_url=sandbox.base_url)
    assert not report.reachable
    assert "limiting how often it answers the portal right now (status 429)" in report.summary
    assert "trouble" not in report.summary
