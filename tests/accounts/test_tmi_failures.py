"""The portal's words for TMI's failures (portal/accounts/tmi_failures.py): one sentence per kind and context,
translatable; a cause within a kind has its own where who must act differs."""

from __future__ import annotations

import pytest
from django.utils.functional import Promise

from portal.accounts.errors import signin_error_message
from portal.accounts.tmi_failures import CAUSES, WORDS, Context, failure_kind, failure_words
from portal.accounts.vault import SignInRequired
from portal.tmi import (
    AddressNotAllowed,
    APIConnectionError,
    BadRequest,
    ClientCredentialsRefused,
    Conflict,
    Failure,
    MalformedResponse,
    NotSupported,
    RateLimited,
    ServiceUnavailable,
)


def status(cls, code=None):
    return cls(status_code=code or cls.status_code, error="e")


@pytest.mark.parametrize("context", list(Context), ids=[c.value for c in Context])
def test_every_kind_has_translatable_words_in_every_context(context):
    assert set(WORDS[context]) == set(Failure)
    for kind in Failure:
        words = WORDS[context][kind]
        assert isinstance(words, Promise), (context, kind)  # gettext_lazy: translated when shown
        text = failure_words(kind, context)
        assert isinstance(text, str) and text.endswith(".") and len(text) > 20, (context, kind, text)
    for _cls, words in CAUSES.get(context, ()):
        assert isinstance(words, Promise)


def test_the_sentences_differ_where_what_helps_differs():
    """Try later, sign in again, ask for access, get a current link: four different things to do."""
    for context in (Context.PAGE, Context.EXPORT, Context.LIVE):
        said = [failure_words(kind, context) for kind in (Failure.TRANSIENT, Failure.SIGN_IN, Failure.FORBIDDEN)]
        said.append(failure_words(Failure.NOT_FOUND, context))
        assert len(set(said)) == 4, context


def test_the_portals_own_sign_in_required_is_a_sign_in_failure():
    assert failure_kind(SignInRequired("acme")) is Failure.SIGN_IN
    assert failure_kind(ValueError("a bug")) is None
    with pytest.raises(TypeError):
        failure_words(ValueError("a bug"), Context.EXPORT)


def test_causes_with_words_of_their_own():
    assert failure_words(ClientCredentialsRefused(status_code=401, error="invalid_client"), Context.EXPORT) == (
        "TMI refused the organisation's client credentials; an admin must replace them."
    )
    assert "must sign in to the portal again" in failure_words(SignInRequired("acme"), Context.EXPORT)
    assert "slow down" in failure_words(status(RateLimited), Context.EXPORT)
    assert failure_words(status(ServiceUnavailable), Context.EXPORT) == (
        "TMI could not be reached or kept failing; try again later."
    )
    assert "does not support client credentials" in failure_words(NotSupported("no"), Context.EXPORT)
    assert "run as its owner" in failure_words(NotSupported("no"), Context.EXPORT)
    assert "asked the portal to wait" in failure_words(status(RateLimited), Context.PAGE)
    assert "sign in to TMI again" in failure_words(SignInRequired("acme"), Context.PAGE)
    assert "already used or has expired" in failure_words(status(BadRequest), Context.SIGN_IN)


def test_the_status_is_said_where_the_words_ask_for_it():
    assert failure_words(status(Conflict), Context.EXPORT) == "TMI refused the request (status 409)."
    assert "(status 503)" in failure_words(status(ServiceUnavailable), Context.CONNECTION_CHECK)
    assert "MalformedResponse" in failure_words(MalformedResponse("x"), Context.CREDENTIALS_CHECK)


@pytest.mark.parametrize(
    "error, words",
    [
        (APIConnectionError("refused"), "is not answering right now"),
        (status(ServiceUnavailable), "is not answering right now"),
        (status(RateLimited), "TMI is limiting sign-ins right now. Please try again in a few minutes."),
        (status(BadRequest), "already used or has expired"),
        (status(Conflict), "refused the sign-in"),
        (MalformedResponse("not JSON"), "could not understand"),
        (NotSupported("no"), "does not offer this way of signing in"),
        (AddressNotAllowed("no"), "address is not allowed here"),
    ],
)
def test_signing_in_says_each_kind_in_words(error, words):
    assert words in str(signin_error_message(error))


def test_a_rate_limited_sign_in_says_how_many_minutes_to_wait():
    """TMI's Retry-After, rounded up to whole minutes (0.217's per-login-hint limit waits up to an hour)."""

    def limited(retry_after: str) -> RateLimited:
        return RateLimited(status_code=429, error="rate_limit_exceeded", headers={"Retry-After": retry_after})

    assert failure_words(limited("59"), Context.SIGN_IN) == (
        "TMI is limiting sign-ins right now. Please try again in 1 minute."
    )
    assert failure_words(limited("3000"), Context.SIGN_IN).endswith("try again in 50 minutes.")
    assert failure_words(limited("61"), Context.SIGN_IN).endswith("try again in 2 minutes.")
    assert "asked the portal to wait" in failure_words(limited("59"), Context.PAGE)  # pages keep their words
