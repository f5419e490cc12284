import pytest

from portal.tmi.errors import APIConnectionError, APITimeoutError
from portal.tmi.retry import RetryMode, RetryPolicy

IDEMPOTENT, UNSAFE, CONNECT_ONLY = RetryMode.IDEMPOTENT, RetryMode.UNSAFE, RetryMode.CONNECT_ONLY
REFUSED = APIConnectionError("refused", connected=False)
RESET = APIConnectionError("reset")
READ_TIMEOUT = APITimeoutError("slow")


@pytest.fixture
def policy():
    return RetryPolicy(max_retries=3, base_delay=0.5, max_delay=8.0, jitter=lambda: 1.0)


def test_methods_map_to_modes():
    assert [RetryMode.for_method(m) for m in ("GET", "head", "PUT", "DELETE", "POST", "PATCH")] == [
        IDEMPOTENT, IDEMPOTENT, IDEMPOTENT, IDEMPOTENT, UNSAFE, UNSAFE]


@pytest.mark.parametrize("status, idempotent, unsafe, connect_only", [
    (429, True, True, False), (503, True, True, False), (502, True, False, False), (504, True, False, False),
    (500, True, False, False), (400, False, False, False), (404, False, False, False), (409, False, False, False)])
def test_which_statuses_retry(policy, status, idempotent, unsafe, connect_only):
    assert [policy.delay(mode, 0, status=status, headers={}) is not None
            for mode in (IDEMPOTENT, UNSAFE, CONNECT_ONLY)] == [idempotent, unsafe, connect_only]


@pytest.mark.parametrize("error, idempotent, unsafe, connect_only", [
    (REFUSED, True, True, True), (RESET, True, False, False), (READ_TIMEOUT, True, False, False)])
def test_which_connection_errors_retry(policy, error, idempotent, unsafe, connect_only):
    assert [policy.delay(mode, 0, error=error) is not None
            for mode in (IDEMPOTENT, UNSAFE, CONNECT_ONLY)] == [idempotent, unsafe, connect_only]


def test_backoff_is_exponential_capped_and_jittered(policy):
    assert [policy.backoff(n) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    low = RetryPolicy(jitter=lambda: 0.0)
    assert [low.backoff(n) for n in range(3)] == [0.25, 0.5, 1.0]  # never below half the ceiling


def test_retry_after_wins_and_is_capped(policy):
    assert policy.delay(UNSAFE, 0, status=429, headers={"retry-after": "3"}) == 3.0
    assert policy.delay(IDEMPOTENT, 0, status=503, headers={"retry-after": "3600"}) == policy.max_retry_after
    assert policy.delay(IDEMPOTENT, 0, status=503, headers={"retry-after": "junk"}) == 0.5


def test_retries_stop_after_max_retries(policy):
    assert policy.delay(IDEMPOTENT, 2, status=503, headers={}) is not None
    assert policy.delay(IDEMPOTENT, 3, status=503, headers={}) is None
    assert RetryPolicy(max_retries=0).delay(IDEMPOTENT, 0, error=REFUSED) is None
