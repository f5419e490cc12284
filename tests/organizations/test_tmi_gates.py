"""The portal's gates (organizations/tmi_gates.py): at most N calls at once at each TMI server, counted
across processes, with places given back when their holder dies."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from portal.organizations import tmi_gates
from portal.organizations.tmi_gates import FileGate, RedisGate, tmi_gate
from tests.sandbox.helpers import add_fault, count_requests_afresh, requests_at_once

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["files", "redis"])
def make_gate(request, tmp_path):
    if request.param == "redis":
        if not settings.REDIS_URL:
            pytest.skip("Redis gates need REDIS_URL (CI's second configuration runs these)")
        return lambda key, places: RedisGate(settings.REDIS_URL, f"{tmp_path.name}-{key}", places)
    return lambda key, places: FileGate(tmp_path / "gates", key, places)


def test_a_gate_has_its_places_and_no_more(make_gate):
    gate = make_gate("tmi-a", 3)
    with contextlib.ExitStack() as held:
        for _ in range(3):
            held.enter_context(gate.hold(0.1))
        started = time.monotonic()
        with pytest.raises(TimeoutError), gate.hold(0.2):
            pass
        assert time.monotonic() - started >= 0.2  # it waited for a place before giving up
    with gate.hold(0.1):  # all given back
        pass


def test_servers_have_gates_of_their_own(make_gate):
    with make_gate("tmi-a", 1).hold(0.1), make_gate("tmi-b", 1).hold(0.1):
        pass


async def test_the_async_twin_waits_for_a_place_given_back(make_gate):
    import asyncio

    gate = make_gate("tmi-a", 1)

    async def hold_briefly():
        async with gate.ahold(1):
            await asyncio.sleep(0.2)

    started = time.monotonic()
    await asyncio.gather(hold_briefly(), hold_briefly())
    assert time.monotonic() - started >= 0.4  # one after the other


def test_a_place_held_by_a_process_that_died_comes_back(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from portal.organizations.tmi_gates import FileGate; "
            "h = FileGate(Path(sys.argv[1]), 'tmi-a', 1).hold(1); h.__enter__(); print('held', flush=True); "
            "time.sleep(60)",
            str(tmp_path / "gates"),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings"},
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        gate = FileGate(tmp_path / "gates", "tmi-a", 1)
        with pytest.raises(TimeoutError), gate.hold(0.1):
            pass
        holder.kill()
        holder.wait(10)
        with gate.hold(1):  # the kernel gave the lock back with the process
            pass
    finally:
        holder.kill()


def test_a_redis_lease_its_holder_never_gave_back_runs_out(monkeypatch, tmp_path):
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL (CI's second configuration runs it)")
    monkeypatch.setattr(tmi_gates, "LEASE_SECONDS", 0.3)
    gate = RedisGate(settings.REDIS_URL, f"{tmp_path.name}-lease", 1)
    assert gate._try() is not None  # taken, never given back (its process died)
    with pytest.raises(TimeoutError), gate.hold(0.1):
        pass
    with gate.hold(1):
        pass


CALLER = """
import asyncio, os, sys, time
import django
django.setup()
from portal.accounts.vault import tmi_client_options
from portal.tmi import AsyncTMIClient
url, token, ready, go = sys.argv[1:5]

async def main():
    async with AsyncTMIClient(url, auth=token, **tmi_client_options(url)) as client:
        open(ready, "w").close()
        while not os.path.exists(go):
            await asyncio.sleep(0.01)
        await asyncio.gather(*(client.threat_models.list(limit=1) for _ in range(4)))

asyncio.run(main())
"""


@pytest.mark.parametrize("generation", ["1.8"])
def test_three_processes_together_stay_within_the_servers_cap(sandbox, tmp_path):
    """Three portal processes start 4 calls each at the same moment: TMI never has more than the default cap
    of 4 open (12 without the gate)."""
    places = tmi_gate(sandbox.base_url, 4).places
    user = next(u for u in sandbox.state.users.values() if u.provider_id == "alice")
    token = sandbox.state.issue_tokens(user)["access_token"]
    add_fault(sandbox.base_url, latency_ms=300, path_prefix="/threat_models")
    count_requests_afresh(sandbox.base_url)
    go = tmp_path / "go"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings"}
    callers = [
        subprocess.Popen(
            [sys.executable, "-c", CALLER, sandbox.base_url, token, str(tmp_path / f"ready-{n}"), str(go)],
            cwd=ROOT,
            env=env,
        )
        for n in range(3)
    ]
    try:
        deadline = time.monotonic() + 60
        while not all((tmp_path / f"ready-{n}").exists() for n in range(3)):
            assert time.monotonic() < deadline and all(c.poll() is None for c in callers), "a caller did not start"
            time.sleep(0.05)
        go.touch()
        assert [c.wait(60) for c in callers] == [0, 0, 0]
    finally:
        for caller in callers:
            caller.kill()
    assert requests_at_once(sandbox.base_url) == places == 4


@pytest.mark.django_db
def test_each_organisation_sets_its_servers_cap_within_bounds():
    from django.core.exceptions import ValidationError

    from portal.accounts.vault import tmi_client_options
    from portal.organizations.models import Organization

    acme = Organization(name="Acme", slug="acme", tmi_base_url="https://tmi.acme.test")
    assert acme.tmi_max_concurrency == 4  # a real 0.217 deadlocks at about 7
    acme.tmi_max_concurrency = 2
    assert tmi_client_options(acme)["gate"].places == 2
    for wrong in (0, 17):
        acme.tmi_max_concurrency = wrong
        with pytest.raises(ValidationError):
            acme.full_clean()


async def test_waiters_in_one_process_do_not_poll_and_a_place_given_back_goes_on_at_once(make_gate, monkeypatch):
    """A thousand sockets opening at once each polled the gate every POLL_SECONDS, and a place given back sat
    free until the next poll. Waiters in one process now wait for one another without polling."""
    import asyncio

    gate = make_gate("tmi-storm", 2)
    tries = []
    real_try = type(gate)._try
    monkeypatch.setattr(type(gate), "_try", lambda self: tries.append(1) or real_try(self))
    at_once, most = 0, 0

    async def call():
        nonlocal at_once, most
        async with gate.ahold(10):
            at_once += 1
            most = max(most, at_once)
            await asyncio.sleep(0.005)
            at_once -= 1

    started = time.monotonic()
    await asyncio.gather(*(call() for _ in range(200)))
    elapsed = time.monotonic() - started
    assert most == 2
    assert len(tries) == 200  # each took a free place at its first try: nobody polled
    # 100 turns of 5 ms; polling every 10 ms for a freed place took at least twice that
    assert elapsed < 100 * (0.005 + tmi_gates.POLL_SECONDS)


def test_a_process_opens_each_lock_file_once(tmp_path, monkeypatch):
    """Each try opened, locked and closed a file; a place this process already held was tried again."""
    opened = []
    real_open = tmi_gates._open
    monkeypatch.setattr(tmi_gates, "_open", lambda path: opened.append(path) or real_open(path))
    gate = FileGate(tmp_path / "gates", "tmi-once", 2)
    for _ in range(50):
        with gate.hold(0.1), gate.hold(0.1):
            with pytest.raises(TimeoutError), gate.hold(0):
                pass
    assert sorted(opened) == gate.paths


def test_a_lock_file_removed_since_it_was_opened_is_opened_afresh(tmp_path):
    """A kept file whose directory was cleared would lock nothing anyone else sees: the place must be counted on
    the file the other processes open now."""
    import fcntl
    import shutil

    gate = FileGate(tmp_path / "gates", "tmi-gone", 1)
    with gate.hold(0.1):
        pass
    shutil.rmtree(tmp_path / "gates")
    (tmp_path / "gates").mkdir()
    other = os.open(gate.paths[0], os.O_RDWR | os.O_CREAT, 0o600)  # another process's open file, afresh
    try:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(TimeoutError), gate.hold(0.1):
            pass
        fcntl.flock(other, fcntl.LOCK_UN)
        with gate.hold(0.1):
            pass
    finally:
        os.close(other)


def test_a_forked_child_does_not_share_its_parents_places(tmp_path):
    """Celery's pool forks its workers: a child's inherited files share their locks with the parent's, so a child
    using them would take the place its parent holds."""
    gate = FileGate(tmp_path / "gates", "tmi-fork", 1)
    with gate.hold(0.1):  # the parent's file is open from here on
        pass
    go_read, go_write = os.pipe()
    answer_read, answer_write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child reports through the pipe)
        try:
            os.read(go_read, 1)
            os.write(answer_write, b"took" if gate._try() is not None else b"none")
        finally:
            os._exit(0)
    try:
        with gate.hold(0.1):
            os.write(go_write, b"g")
            answer = os.read(answer_read, 10)
    finally:
        os.waitpid(child, 0)
        for fd in (go_read, go_write, answer_read, answer_write):
            os.close(fd)
    assert answer == b"none"
