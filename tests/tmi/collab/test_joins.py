"""JoinShare on its own: who POSTs, who borrows, and when a borrowed session is no longer lent."""

from __future__ import annotations

import asyncio

import pytest

from portal.tmi.collab import joins
from portal.tmi.collab.joins import JoinShare
from portal.tmi.errors import Forbidden
from portal.tmi.models import CollaborationSession, Participant, User

KEY = ("http://tmi.test", "tm", "d")


def answer(session_id: str = "s1", *, created: bool = True) -> CollaborationSession:
    """What a POST answers the person who made it: more than a borrower may see."""
    return CollaborationSession(
        session_id=session_id,
        threat_model_id="tm",
        diagram_id="d",
        websocket_url=f"ws://tmi.test/threat_models/tm/diagrams/d/ws?session_id={session_id}",
        threat_model_name="Payments",
        host=User(provider_id="alice"),
        participants=[Participant(user=User(provider_id="alice"), permissions="writer")],
        created=created,
    )


class Posts:
    """A stand-in for one person's POST /collaborate: counts its calls, answers after `delay`."""

    def __init__(self, result: CollaborationSession | Exception | None = None, delay: float = 0.05) -> None:
        self.result, self.delay, self.calls = result if result is not None else answer(), delay, 0

    async def __call__(self) -> CollaborationSession:
        self.calls += 1
        await asyncio.sleep(self.delay)
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


async def test_people_joining_together_make_one_post_and_borrow_only_its_address():
    share = JoinShare()
    leader, others = Posts(), [Posts() for _ in range(9)]
    got = await asyncio.gather(share.session(KEY, leader), *(share.session(KEY, p) for p in others))
    assert leader.calls == 1 and sum(p.calls for p in others) == 0
    assert got[0].created and got[0].participants  # the leader keeps its own answer
    for borrowed in got[1:]:
        assert borrowed.session_id == "s1" and borrowed.websocket_url == got[0].websocket_url
        assert not borrowed.created  # nobody but the creator is host, or leaves as one
        assert borrowed.participants == [] and borrowed.host is None and borrowed.threat_model_name is None


async def test_a_failed_post_sends_each_waiter_to_post_for_themselves():
    share = JoinShare()
    refused, waiter = Posts(Forbidden(status_code=403, error="forbidden")), Posts(answer(created=False))
    results = await asyncio.gather(share.session(KEY, refused), share.session(KEY, waiter), return_exceptions=True)
    assert isinstance(results[0], Forbidden)  # a refusal of one person is not passed on to another
    assert results[1].session_id == "s1" and waiter.calls == 1


async def test_the_asker_leaving_does_not_cancel_those_waiting_for_its_answer():
    share = JoinShare()
    leader_task = asyncio.create_task(share.session(KEY, Posts(delay=1.0)))
    await asyncio.sleep(0.01)
    waiter = Posts(answer(created=False))
    waiting = asyncio.create_task(share.session(KEY, waiter))
    await asyncio.sleep(0.01)
    leader_task.cancel()
    assert (await waiting).session_id == "s1" and waiter.calls == 1
    with pytest.raises(asyncio.CancelledError):
        await leader_task


async def test_a_joined_session_is_lent_until_the_last_holder_leaves():
    now = [0.0]
    share = JoinShare(clock=lambda: now[0])
    session = await share.session(KEY, Posts())
    share.joined(KEY, session)
    share.joined(KEY, session)
    now[0] = 3600.0  # joined sessions are lent however long they last
    late = Posts()
    assert (await share.session(KEY, late)).session_id == "s1" and late.calls == 0
    share.left(KEY, "s1")
    assert (await share.session(KEY, late)).session_id == "s1" and late.calls == 0
    share.left(KEY, "s1")  # the last one here left: TMI may drop it at any moment
    assert (await share.session(KEY, Posts(answer("s2")))).session_id == "s2"


async def test_a_session_seen_to_end_is_forgotten_and_an_older_id_changes_nothing():
    share = JoinShare()
    share.joined(KEY, answer("s1"))
    share.forget(KEY, "s0")
    share.left(KEY, "s0")
    assert (await share.session(KEY, Posts(answer("s9")))).session_id == "s1"
    share.forget(KEY, "s1")
    assert (await share.session(KEY, Posts(answer("s2")))).session_id == "s2"


async def test_a_session_nobody_here_joined_is_lent_only_briefly():
    now = [0.0]
    share = JoinShare(clock=lambda: now[0])
    await share.session(KEY, Posts())
    now[0] = joins.UNJOINED_SECONDS - 0.1
    assert (await share.session(KEY, Posts(answer("s2")))).session_id == "s1"
    now[0] = joins.UNJOINED_SECONDS + 0.1  # TMI drops a session nobody joined within about 15 s
    assert (await share.session(KEY, Posts(answer("s2")))).session_id == "s2"


async def test_fresh_skips_what_is_known_but_still_waits_for_a_post_under_way():
    share = JoinShare()
    share.joined(KEY, answer("stale"))
    posting = asyncio.create_task(share.session(KEY, Posts(answer("s2")), fresh=True))
    await asyncio.sleep(0.01)
    follower = Posts(answer("s3"))
    assert (await share.session(KEY, follower, fresh=True)).session_id == "s2" and follower.calls == 0
    assert (await posting).session_id == "s2"


async def test_diagrams_and_servers_are_kept_apart_and_the_memory_is_bounded(monkeypatch):
    monkeypatch.setattr(joins, "KEPT", 3)
    share = JoinShare()
    for n in range(3):
        share.joined(("http://tmi.test", "tm", f"d{n}"), answer(f"s{n}"))
    other = Posts(answer("x"))
    assert (await share.session(("http://other.test", "tm", "d0"), other)).session_id == "x"
    assert other.calls == 1  # same diagram ids, another server: not lent
    assert len(share._known) <= 3
