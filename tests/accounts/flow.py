"""Drive a real sign-in: the portal (Django test client) -> the sandbox (real httpx) -> back."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
from django.test import Client

from portal.tmi import TMIClient

# The sandbox's 1.8 client_callback allow-list accepts localhost on any port.
PORTAL_HOST = "localhost:8000"


def portal_client(**kwargs) -> Client:
    return Client(HTTP_HOST=PORTAL_HOST, **kwargs)


@dataclass
class Attempt:
    start: object  # the portal's answer to the login POST (a redirect to TMI)
    tmi: httpx.Response | None = None  # TMI's answer to the authorize URL (a redirect to the callback)

    @property
    def callback_url(self) -> str:
        assert self.tmi is not None and self.tmi.status_code == 302, self.tmi and self.tmi.text
        return self.tmi.headers["location"]

    @property
    def callback_path(self) -> str:
        parts = urlsplit(self.callback_url)
        return f"{parts.path}?{parts.query}"

    @property
    def state(self) -> str:
        return parse_qs(urlsplit(self.callback_url).query)["state"][0]


def idp_of(organization) -> str:
    """The generation's built-in test IdP (`tmi` at 1.8, `test` at 0.217), as the server lists it."""
    with TMIClient(organization.tmi_base_url) as client:
        return client.auth.test_provider().id


def start(
    client: Client,
    organization,
    hint: str | None,
    *,
    next_url: str | None = None,
    provider: str | None = None,
    to_tmi: bool = True,
    link: bool = False,
) -> Attempt:
    """POST the login form, then follow the portal's redirect to TMI's authorize URL (no redirects).
    `link`: press "Link to <you>" instead of "Sign in with ..." (the browser must be signed in)."""
    data = {"provider": provider or idp_of(organization), "login_hint": hint or ""}
    if next_url is not None:
        data["next"] = next_url
    if link:
        data["link"] = "1"
    response = client.post(f"/o/{organization.slug}/login/", data)
    attempt = Attempt(start=response)
    if to_tmi:
        assert response.status_code == 302, response.content.decode()[:2000]
        attempt.tmi = httpx.get(response["Location"], follow_redirects=False, timeout=10)
    return attempt


def sign_in(client: Client, organization, hint: str, *, next_url: str | None = None, link: bool = False):
    """The whole round trip; returns the portal's answer to the callback."""
    attempt = start(client, organization, hint, next_url=next_url, link=link)
    return client.get(attempt.callback_path)
