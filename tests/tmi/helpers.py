"""Helpers for the TMI client tests: signing in through the client, recording sleeps."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx

from portal.tmi import TMIClient, TokenPair, pkce

CLIENT_CALLBACK = "http://127.0.0.1:8000/callback"


def authorize_redirect(client: TMIClient, hint: str | None, *, state: str | None = None) -> tuple[str, str, str]:
    """Follow the test IdP's authorize step like a browser would, without following the redirect.
    Returns (code, returned state, verifier)."""
    provider = client.auth.test_provider()
    verifier = pkce.code_verifier()
    state = state or pkce.new_state()
    url = client.auth.authorize_url(
        provider,
        state=state,
        code_challenge=pkce.code_challenge(verifier),
        client_callback=CLIENT_CALLBACK,
        login_hint=hint,
    )
    response = httpx.get(url, follow_redirects=False)
    assert response.status_code == 302, response.text
    query = parse_qs(urlsplit(response.headers["location"]).query)
    return query["code"][0], query["state"][0], verifier


def sign_in(client: TMIClient, hint: str) -> TokenPair:
    """The token pair of test-IdP user `hint`, through the client's own OAuth calls."""
    code, _, verifier = authorize_redirect(client, hint)
    return client.auth.exchange_code(code, verifier, redirect_uri=CLIENT_CALLBACK, idp=client.auth.test_provider().id)


class Sleeps(list):
    """An injected `sleep` that records the delays instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


class AsyncSleeps(Sleeps):
    async def __call__(self, seconds: float) -> None:  # type: ignore[override]
        self.append(seconds)
