"""The auth-flow budget per TMI server (organizations/tmi_budget.py): a sliding window shared by every process,
with places kept for sign-ins and closed by a 429's Retry-After. On files by default, on Redis with REDIS_URL
(the suite's PostgreSQL+Redis run takes the other path)."""

from __future__ import annotations

import multiprocessing

import pytest

from portal.organizations import tmi_budget
from portal.organizations.tmi_budget import Purpose, tmi_auth_places, tmi_budget_forget

SERVER = "http://tmi-budget.test:8080"


@pytest.fixture(autouse=True)
def budget_of_ten(settings):
    settings.PORTAL_TMI_AUTH_CALLS_PER_MINUTE = 10
    settings.PORTAL_TMI_AUTH_RESERVE_PERCENT = 20
    tmi_budget_forget(SERVER)
    yield
    tmi_budget_forget(SERVER)


def _take_all(queue) -> None:  # in a child process: take as many refresh places as it can, without waiting
    taken = sum(1 for _ in range(10) if tmi_budget.tmi_budget(SERVER).take(0) is None)
    queue.put(taken)


def test_processes_together_never_take_more_than_the_refresh_share():
    assert tmi_auth_places(Purpose.REFRESH) == 8 and tmi_auth_places(Purpose.SIGN_IN) == 10
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    children = [context.Process(target=_take_all, args=(queue,)) for _ in range(4)]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=30)
    assert sum(queue.get(timeout=5) for _ in children) == 8  # of the 40 tried, 8 were let out
    assert tmi_budget.tmi_budget(SERVER).taken() == 8
    # The reserve: refreshes are refused, a sign-in still gets a place (and only the two kept).
    assert tmi_budget.tmi_budget(SERVER).take(0) is not None
    signin = tmi_budget.tmi_budget(SERVER, Purpose.SIGN_IN)
    assert signin.take(0) is None and signin.take(0) is None
    short = signin.take(0)
    assert short is not None and 0 < short <= tmi_budget.WINDOW_SECONDS


def test_the_window_slides(monkeypatch):
    budget = tmi_budget.tmi_budget(SERVER)
    start = tmi_budget._now()
    for _ in range(8):
        assert budget.take(0) is None
    monkeypatch.setattr(tmi_budget, "_now", lambda: start + 30)
    assert budget.take(0) is not None  # the eight are still within 61 s
    monkeypatch.setattr(tmi_budget, "_now", lambda: start + tmi_budget.WINDOW_SECONDS + 1)
    assert budget.take(0) is None and budget.taken() == 1  # they left the window


def test_a_429_closes_the_budget_for_everyone_until_its_retry_after(monkeypatch):
    start = tmi_budget._now()
    tmi_budget.tmi_budget(SERVER).refused(20)
    for purpose in (Purpose.SIGN_IN, Purpose.REFRESH):
        short = tmi_budget.tmi_budget(SERVER, purpose).take(0)
        assert short is not None and 19 <= short <= 20
    # The sync's REST budget is a window of its own: TMI limits its auth flow and its REST calls apart.
    assert tmi_budget.tmi_budget(SERVER, Purpose.REST).take(0) is None
    monkeypatch.setattr(tmi_budget, "_now", lambda: start + 21)
    assert tmi_budget.tmi_budget(SERVER).take(0) is None


def test_a_short_wait_is_waited_for(monkeypatch):
    budget = tmi_budget.tmi_budget(SERVER)
    budget.refused(0.2)
    assert budget.take(2) is None  # the closure ends within the wait: the place is taken after it
