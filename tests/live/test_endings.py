"""How a live session ended, in the portal's words (portal/live/endings.py): every reason the TMI client
may end with has translatable words, and a session that could not start ends with the reason for the
kind of TMI's failure, against the sandbox's injected faults in both generations."""

from __future__ import annotations

import asyncio

import pytest
from django.utils.functional import Promise

from portal.accounts.tmi_failures import Context, failure_words
from portal.live.closes import CLOSES
from portal.live.endings import MAX_SAID, WORDS, ended_frame, failure_ending, start_failure_frame, with_words
from portal.tmi import Failure
from portal.tmi.collab.endings import REASONS, ended
from portal.tmi.errors import BadRequest, ServiceUnavailable
from tests.live.conftest import ConnectionClosed
from tests.sandbox.helpers import add_fault


def test_every_reason_the_client_ends_with_has_translatable_words():
    assert set(WORDS) == set(REASONS)
    for reason, words in WORDS.items():
        assert isinstance(words, Promise), reason
        assert str(words).endswith(".") and len(str(words)) > 20
        assert ended_frame(reason) == {"type": "ended", "reason": reason, "message": str(words)}
        assert with_words(ended(reason)) == ended_frame(reason)


def test_other_frames_pass_unchanged():
    frame = {"type": "connection", "state": "live"}
    assert with_words(frame) is frame


@pytest.mark.parametrize(
    "kind, reason",
    [
        (Failure.SIGN_IN, "sign_in_required"),
        (Failure.FORBIDDEN, "no_access"),
        (Failure.NOT_FOUND, "not_found"),
        (Failure.TRANSIENT, "tmi_unavailable"),
        (Failure.MALFORMED, "tmi_unavailable"),
        (Failure.UNSUPPORTED, "tmi_unavailable"),
        (Failure.NOT_ALLOWED, "tmi_unavailable"),
        (Failure.REFUSED, "tmi_unavailable"),
    ],
)
def test_a_session_that_could_not_start_ends_with_the_reason_for_its_kind(kind, reason):
    assert failure_ending(kind) == reason
    assert str(WORDS[reason]) == failure_words(kind, Context.LIVE)  # one sentence per kind, shared


def test_the_close_after_a_failure_says_the_same_words():
    for reason in ("sign_in_required", "tmi_unavailable"):
        assert str(CLOSES[reason].words) == str(WORDS[reason])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "fault, reason",
    [
        ({"status": 401}, "sign_in_required"),  # still refused after the client's one refresh
        ({"status": 403}, "no_access"),
        ({"status": 503, "retry_after": 0}, "tmi_unavailable"),
        ({"status": 200, "body": "<html>a proxy</html>"}, "tmi_unavailable"),
    ],
    ids=["sign-in", "forbidden", "unavailable", "malformed"],
)
async def test_tmi_refusing_the_start_ends_in_the_words_of_its_kind(world, browsers, fault, reason):
    await asyncio.to_thread(
        add_fault, world.server.base_url, path_prefix=world.collaborate_path, method="POST", **fault
    )
    alice = await browsers("alice")
    frame = await alice.until("ended", timeout=15)
    assert frame == {"type": "ended", "reason": reason, "message": str(WORDS[reason])}


@pytest.mark.django_db(transaction=True)
async def test_a_refusal_with_reasons_ends_in_tmis_own_words(world, browsers):
    """The real 0.217.8 refuses every session start with 500 and its reason (a bug of its own): the
    person reads what TMI said, not that TMI could not be reached, and the page does not reconnect."""
    said = "user alice@test.tmi is not authorized to access this threat model"
    body = '{"error": "server_error", "error_description": "' + said + ' \\u202e"}'
    await asyncio.to_thread(
        add_fault, world.server.base_url, path_prefix=world.collaborate_path, method="POST", status=500, body=body
    )
    alice = await browsers("alice")
    frame = await alice.until("ended", timeout=15)
    assert frame == {
        "type": "ended",
        "reason": "tmi_refused",
        "message": f"TMI refused to start the live session (status 500). It said: “{said}”",
    }  # the bidi override TMI sent is gone
    with pytest.raises(ConnectionClosed) as closed:
        await alice.next()
    assert closed.value.code == CLOSES["tmi_unavailable"].code


def test_only_a_refusal_that_says_why_is_quoted():
    busy = ServiceUnavailable(status_code=503, error="unavailable", error_description="maintenance window")
    assert start_failure_frame(busy) == ended_frame("tmi_unavailable")  # busy is not a reason
    silent = BadRequest(status_code=400, error="invalid_input")
    assert start_failure_frame(silent) == ended_frame("tmi_unavailable")
    long = BadRequest(status_code=400, error="invalid_input", error_description="x" * 1000)
    message = start_failure_frame(long)["message"]
    assert "x" * (MAX_SAID - 1) + "…”" in message and "x" * MAX_SAID not in message
