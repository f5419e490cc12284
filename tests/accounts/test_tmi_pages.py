"""`tmi_page`: each kind of TMI failure becomes its page, in the words accounts/tmi_failures.py has for it,
against the sandbox's injected faults in both TMI generations.

Driven through the live diagram page (portal/live/views.py), which calls TMI on every page view; the
dashboard pages read the local store and never call TMI on a page view."""

from __future__ import annotations

import html

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from portal.accounts.tmi_failures import Context, failure_words
from portal.tmi import Conflict, Failure, MethodNotAllowed, RateLimited
from tests.dashboard.conftest import find_model
from tests.sandbox.helpers import add_fault

pytestmark = pytest.mark.django_db(transaction=True)


PAYMENTS = "Customer Payments API"  # seed.py: alice owns it and it has a diagram


def live_page(client, sandbox):
    """The live diagram page of a threat model the owner can read: its view asks TMI on every visit."""
    tm = find_model(sandbox, PAYMENTS)
    return client.get(reverse("live:diagram", args=["acme", tm["id"], tm["diagrams"][0]["id"]]))


def text(response) -> str:
    return html.unescape(response.content.decode())


@pytest.mark.parametrize(
    "fault, status, words",
    [
        ({"status": 503, "retry_after": 45}, 503, failure_words(Failure.TRANSIENT, Context.PAGE)),
        ({"status": 502}, 503, failure_words(Failure.TRANSIENT, Context.PAGE)),
        (
            {"status": 429, "retry_after": 45},
            503,
            failure_words(RateLimited(status_code=429, error="e"), Context.PAGE),
        ),
        ({"status": 200, "body": "<html>a proxy</html>"}, 503, failure_words(Failure.MALFORMED, Context.PAGE)),
        ({"status": 405}, 503, failure_words(MethodNotAllowed(status_code=405, error="e"), Context.PAGE)),
        ({"status": 409}, 503, failure_words(Conflict(status_code=409, error="e"), Context.PAGE)),
        ({"status": 403}, 403, failure_words(Failure.FORBIDDEN, Context.PAGE)),
        ({"status": 404}, 404, failure_words(Failure.NOT_FOUND, Context.PAGE)),
    ],
    ids=["unavailable", "bad-gateway", "busy", "malformed", "unsupported", "refused", "forbidden", "not-found"],
)
def test_each_kind_of_failure_is_its_page_in_its_words(client, signed_in_owner, sandbox, fault, status, words):
    add_fault(sandbox.base_url, path_prefix="/threat_models", **fault)
    response = live_page(client, sandbox)
    assert response.status_code == status
    assert words in text(response)
    if status == 503:
        assert "Try again" in text(response)
        # A wait longer than the page's deadline is not waited for: passed on to the browser instead.
        assert response.get("Retry-After") == ("45" if "retry_after" in fault else None)


def test_a_sign_in_failure_sends_the_member_to_sign_in_with_its_words(client, signed_in_owner, sandbox):
    add_fault(sandbox.base_url, status=401, path_prefix="/threat_models")  # after the client's one refresh too
    response = live_page(client, sandbox)
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login", args=["acme"]))
    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert said == [failure_words(Failure.SIGN_IN, Context.PAGE)]
