"""'Test connection': reachability, generation, version, providers and timing, or the trouble in words."""
from __future__ import annotations

import re

import httpx
import pytest
import respx
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.sandbox.config import SERVER_BUILDS
from portal.tenant_admin.connection import tmi_server_check
from tests.sandbox.helpers import add_fault
from tests.tenant_admin.conftest import client_for


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


@respx.mock
def test_a_web_page_that_is_not_tmi_is_named_as_such():
    respx.get("http://intranet.example/").mock(return_value=httpx.Response(
        200, html="<html><body>Welcome to the intranet</body></html>"))
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
    page = client_for(world.users["admin"]).post(reverse("tenant_admin:connection_test", args=["acme"]),
                                                {"tmi_base_url": ""})
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
    page = client_for(world.users["admin"]).post(reverse("tenant_admin:connection_test", args=["acme"]),
                                                {"tmi_base_url": ""})
    html = page.content.decode()
    assert '<dd id="report-credentials" class="is-bad">TMI refused the stored client credentials' in html
    assert AuditEvent.objects.get(action="organization.tmi_tested").details["credentials_work"] is False
