import time

import httpx
import pytest

from portal.tmi import AsyncTMIClient, BadGateway, Page, RateLimited, TMIClient
from portal.tmi.errors import APIConnectionError, APITimeoutError
from portal.tmi.retry import RetryMode, RetryPolicy
from tests.tmi.helpers import AsyncSleeps, Sleeps

IDEMPOTENT, UNSAFE, CONNECT_ONLY = RetryMode.IDEMPOTENT, RetryMode.UNSAFE, RetryMode.CONNECT_ONLY
REFUSED = APIConnectionError("refused", connected=False)
RESET = APIConnectionError("reset")
READ_TIMEOUT = APITimeoutError("slow")


class FakeClock:
    """A monotonic clock that only `sleep` moves: deadlines and waits are checked without waiting."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def policy():
    return RetryPolicy(max_retries=3, base_delay=0.5, max_delay=8.0, jitter=lambda: 1.0)


def test_methods_map_to_modes():
    assert [RetryMode.for_method(m) for m in ("GET", "head", "PUT", "DELETE", "POST", "PATCH")] == [
        IDEMPOTENT,
        IDEMPOTENT,
        IDEMPOTENT,
        IDEMPOTENT,
        UNSAFE,
        UNSAFE,
    ]


@pytest.mark.parametrize(
    "status, idempotent, unsafe, connect_only",
    [
        (429, True, True, False),
        (503, True, True, False),
        (502, True, False, False),
        (504, True, False, False),
        (500, True, False, False),
        (400, False, False, False),
        (404, False, False, False),
        (409, False, False, False),
    ],
)
def test_which_statuses_retry(policy, status, idempotent, unsafe, connect_only):
    assert [
        policy.delay(mode, 0, status=status, headers={}) is not None for mode in (IDEMPOTENT, UNSAFE, CONNECT_ONLY)
    ] == [idempotent, unsafe, connect_only]


@pytest.mark.parametrize(
    "error, idempotent, unsafe, connect_only",
    [(REFUSED, True, True, True), (RESET, True, False, False), (READ_TIMEOUT, True, False, False)],
)
def test_which_connection_errors_retry(policy, error, idempotent, unsafe, connect_only):
    assert [policy.delay(mode, 0, error=error) is not None for mode in (IDEMPOTENT, UNSAFE, CONNECT_ONLY)] == [
        idempotent,
        unsafe,
        connect_only,
    ]


def test_backoff_is_exponential_capped_and_jittered(policy):
    assert [policy.backoff(n) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    low = RetryPolicy(jitter=lambda: 0.0)
    assert [low.backoff(n) for n in range(3)] == [0.25, 0.5, 1.0]  # never below half the ceiling


def test_retry_after_wins_and_is_capped(policy):
    assert policy.delay(UNSAFE, 0, status=429, headers={"retry-after": "3"}) == 3.0
    assert policy.delay(IDEMPOTENT, 0, status=503, headers={"retry-after": "3600"}) == policy.max_retry_after
    assert policy.delay(IDEMPOTENT, 0, status=503, headers={"retry-after": "junk"}) == 0.5


def test_a_refusal_by_the_callers_own_budget_is_not_retried(policy):
    """The budget already waited as long as the request allowed (issue 15: a pass the REST budget stopped idled
    20 s in the worker retrying its own refusal)."""
    refused = httpx.Headers({"Retry-After": "3", "X-Portal-Budget": "REST"})
    assert policy.delay(IDEMPOTENT, 0, status=429, headers=refused) is None
    assert policy.delay(UNSAFE, 0, status=429, headers={"x-portal-budget": "auth-flow"}) is None
    assert policy.delay(IDEMPOTENT, 0, status=429, headers={"retry-after": "3"}) == 3.0  # TMI's own: retried


def test_retries_stop_after_max_retries(policy):
    assert policy.delay(IDEMPOTENT, 2, status=503, headers={}) is not None
    assert policy.delay(IDEMPOTENT, 3, status=503, headers={}) is None
    assert RetryPolicy(max_retries=0).delay(IDEMPOTENT, 0, error=REFUSED) is None


# -- under a deadline ----------------------------------------------------------------------------------------------
def test_under_a_deadline_a_timeout_is_not_retried(policy):
    never_sent = APITimeoutError("connect timeout", connected=False)
    assert policy.delay(IDEMPOTENT, 0, error=READ_TIMEOUT) == 0.5  # no deadline: as before
    assert policy.delay(IDEMPOTENT, 0, error=READ_TIMEOUT, remaining=9.0) is None
    assert policy.delay(UNSAFE, 0, error=never_sent, remaining=9.0) is None
    assert policy.delay(IDEMPOTENT, 0, error=REFUSED, remaining=9.0) == 0.5  # quick to fail: worth one more


def test_a_policy_may_refuse_to_retry_timeouts_without_a_deadline():
    quick = RetryPolicy(retry_timeouts=False, jitter=lambda: 1.0)
    assert quick.delay(IDEMPOTENT, 0, error=READ_TIMEOUT) is None
    assert quick.delay(IDEMPOTENT, 0, error=REFUSED) == 0.5


def test_a_retry_after_longer_than_the_time_left_is_not_waited_for(policy):
    assert policy.delay(IDEMPOTENT, 0, status=429, headers={"retry-after": "60"}, remaining=9.0) is None
    assert policy.delay(IDEMPOTENT, 0, status=429, headers={"retry-after": "3"}, remaining=9.0) == 3.0
    assert policy.delay(IDEMPOTENT, 0, status=503, headers={"retry-after": "3"}, remaining=3.0) is None
    # Without a deadline a long Retry-After is still cut to max_retry_after and waited for (background work).
    assert policy.delay(IDEMPOTENT, 0, status=429, headers={"retry-after": "60"}) == policy.max_retry_after


def test_backoff_never_runs_past_the_deadline(policy):
    assert policy.delay(IDEMPOTENT, 2, status=502, headers={}, remaining=2.5) == 2.0
    assert policy.delay(IDEMPOTENT, 2, status=502, headers={}, remaining=1.5) is None
    assert policy.delay(IDEMPOTENT, 0, status=502, headers={}, remaining=0.0) is None


def test_time_left_is_read_from_the_policys_clock():
    clock = FakeClock(100.0)
    policy = RetryPolicy(clock=clock)
    assert policy.remaining(None) is None and policy.remaining(104.0) == 4.0
    clock.sleep(5)
    assert policy.remaining(104.0) == -1.0


# Over real sockets: the sandbox's faults (tests/tmi/test_sandbox_faults.py covers the client without a deadline).
def counting(requests: list[str]):
    def hook(request: httpx.Request) -> None:
        requests.append(f"{request.method} {request.url.path}")

    return hook


def async_counting(requests: list[str]):
    async def hook(request: httpx.Request) -> None:
        requests.append(f"{request.method} {request.url.path}")

    return hook


def inject(control: httpx.Client, **fault) -> None:
    control.post("/_sandbox/faults", json=fault).raise_for_status()


def fault_hits(control: httpx.Client) -> int:
    """How many requests the sandbox's faults met (what the server saw, not what the client says it sent)."""
    return sum(fault["hits"] for fault in control.get("/_sandbox/faults").json()["faults"])


def test_a_deadline_cuts_the_timeout_and_a_timed_out_get_is_not_sent_again(sandbox, alice_tokens, control):
    requests, sleeps = [], Sleeps()
    generation = sandbox.config.generation
    inject(control, path_prefix="/threat_models", method="GET", latency_ms=3000)  # every attempt hangs
    started = time.monotonic()
    with TMIClient(
        sandbox.base_url,
        auth=alice_tokens,
        timeout=5,
        max_retries=2,
        sleep=sleeps,
        generation=generation,
        event_hooks={"request": [counting(requests)]},
        deadline=time.monotonic() + 0.5,
    ) as client:
        with pytest.raises(APITimeoutError):
            client.threat_models.list()
    elapsed = time.monotonic() - started
    assert requests == ["GET /threat_models"] and fault_hits(control) == 1 and sleeps == []
    assert elapsed < 2.5  # the 5 s timeout was cut to the 0.5 s left (loose bound: a busy machine)


async def test_the_async_client_keeps_the_same_deadline(sandbox, alice_tokens, control):
    requests, sleeps = [], AsyncSleeps()
    inject(control, path_prefix="/threat_models", method="GET", latency_ms=3000)
    started = time.monotonic()
    async with AsyncTMIClient(
        sandbox.base_url,
        auth=alice_tokens,
        timeout=5,
        max_retries=2,
        sleep=sleeps,
        generation=sandbox.config.generation,
        deadline=time.monotonic() + 0.5,
        event_hooks={"request": [async_counting(requests)]},
    ) as client:
        with pytest.raises(APITimeoutError):
            await client.threat_models.list()
    assert requests == ["GET /threat_models"] and fault_hits(control) == 1 and sleeps == []
    assert time.monotonic() - started < 2.5


def test_a_retry_after_beyond_the_deadline_is_raised_at_once(sandbox, alice_tokens, control):
    requests, sleeps = [], Sleeps()
    inject(control, path_prefix="/threat_models", method="GET", status=429, retry_after=60)
    with TMIClient(
        sandbox.base_url,
        auth=alice_tokens,
        sleep=sleeps,
        generation=sandbox.config.generation,
        event_hooks={"request": [counting(requests)]},
        deadline=time.monotonic() + 10,
    ) as client:
        with pytest.raises(RateLimited) as caught:
            client.threat_models.list()
    assert caught.value.retry_after == 60.0 and requests == ["GET /threat_models"] and sleeps == []
    assert fault_hits(control) == 1


async def test_the_async_client_raises_a_long_retry_after_at_once(sandbox, alice_tokens, control):
    sleeps = AsyncSleeps()
    inject(control, path_prefix="/threat_models", method="GET", status=429, retry_after=60)
    async with AsyncTMIClient(
        sandbox.base_url,
        auth=alice_tokens,
        sleep=sleeps,
        generation=sandbox.config.generation,
        deadline=time.monotonic() + 10,
    ) as client:
        with pytest.raises(RateLimited) as caught:
            await client.threat_models.list()
    assert caught.value.retry_after == 60.0 and sleeps == [] and fault_hits(control) == 1


def test_a_retry_after_within_the_deadline_is_still_honoured(sandbox, alice_tokens, control):
    sleeps = Sleeps()
    inject(control, path_prefix="/threat_models", method="GET", status=503, retry_after=1, times=1)
    with TMIClient(
        sandbox.base_url,
        auth=alice_tokens,
        sleep=sleeps,
        generation=sandbox.config.generation,
        deadline=time.monotonic() + 10,
    ) as client:
        assert isinstance(client.threat_models.list(), Page)
    assert sleeps == [1.0]


def test_backoff_stops_where_it_would_pass_the_deadline(sandbox, alice_tokens, control):
    """On a clock that only the injected sleep moves: 1 s of backoff fits in 2.5 s, the next 2 s do not."""
    requests, clock = [], FakeClock()
    policy = RetryPolicy(max_retries=5, base_delay=1.0, jitter=lambda: 1.0, clock=clock)
    inject(control, path_prefix="/threat_models", method="GET", status=502)
    with TMIClient(
        sandbox.base_url,
        auth=alice_tokens,
        retry_policy=policy,
        sleep=clock.sleep,
        generation=sandbox.config.generation,
        deadline=clock() + 2.5,
        event_hooks={"request": [counting(requests)]},
    ) as client:
        with pytest.raises(BadGateway):
            client.threat_models.list()
    assert clock.slept == [1.0] and len(requests) == 2 and fault_hits(control) == 2


def test_nothing_is_sent_once_the_deadline_has_passed(sandbox, alice_tokens, control):
    requests = []
    with TMIClient(
        sandbox.base_url,
        auth=alice_tokens,
        generation=sandbox.config.generation,
        event_hooks={"request": [counting(requests)]},
        deadline=time.monotonic() - 1,
    ) as client:
        with pytest.raises(APITimeoutError, match="deadline passed") as caught:
            client.threat_models.list()
    assert requests == [] and not caught.value.connected


def test_a_client_without_a_deadline_still_retries_a_timeout(sandbox, alice_tokens, control):
    """Background work (exports, sync) keeps the retries: only a deadline takes them away."""
    sleeps = Sleeps()
    inject(control, path_prefix="/threat_models", method="GET", latency_ms=1000, times=1)
    with TMIClient(
        sandbox.base_url, auth=alice_tokens, timeout=0.3, sleep=sleeps, generation=sandbox.config.generation
    ) as client:
        assert isinstance(client.threat_models.list(), Page)
    assert len(sleeps) == 1 and fault_hits(control) == 0  # the fault, used once, is gone
