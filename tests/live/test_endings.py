"""How a live session ended, in the portal's words (portal/live/endings.py): every reason the TMI client
may end with has translatable words, and a session that could not start ends with the reason for the
kind of TMI's failure, against the sandbox's injected faults in both generations."""

from __future__ import annotations

import asyncio

import pytest
from django.utils.functional import Promise

from portal.accounts.tmi_failures import Context, failure_words
from portal.live.closes import CLOSES
from portal.live.endings import WORDS, ended_frame, failure_ending, with_words
from portal.tmi import Failure
from portal.tmi.collab.endings import REASONS, ended
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
