"""One classification of the client's failures (portal/tmi/failures.py): every error class has a kind, and the
client's retries are derived from it."""

from __future__ import annotations

import inspect

import pytest
from websockets.datastructures import Headers
from websockets.exceptions import InvalidMessage, InvalidStatus
from websockets.http11 import Response

import portal.tmi
from portal.tmi import errors
from portal.tmi.failures import Failure, failure_of, failure_of_status
from portal.tmi.retry import RetryMode, RetryPolicy
from tests.sandbox.helpers import add_fault


def _status(cls: type[errors.TMIStatusError], status: int | None = None) -> errors.TMIStatusError:
    return cls(status_code=status or cls.status_code, error="e", headers={"Retry-After": "7"})


# Every class errors.py defines, with the kind it is. A class added without a row fails the next test.
KINDS: list[tuple[type[errors.TMIError], errors.TMIError, Failure]] = [
    (errors.TMIError, errors.TMIError("something odd"), Failure.MALFORMED),
    (errors.APIConnectionError, errors.APIConnectionError("reset"), Failure.TRANSIENT),
    (errors.APITimeoutError, errors.APITimeoutError("slow"), Failure.TRANSIENT),
    (errors.AddressNotAllowed, errors.AddressNotAllowed("no", host="10.0.0.1"), Failure.NOT_ALLOWED),
    (errors.NotSupported, errors.NotSupported("0.217 has no tickets"), Failure.UNSUPPORTED),
    (errors.MalformedResponse, errors.MalformedResponse("not JSON", status_code=200), Failure.MALFORMED),
    (errors.TMIStatusError, _status(errors.TMIStatusError, 418), Failure.REFUSED),
    (errors.BadRequest, _status(errors.BadRequest), Failure.REFUSED),
    (errors.Unauthorized, _status(errors.Unauthorized), Failure.SIGN_IN),
    (errors.RefreshFailed, _status(errors.RefreshFailed, 400), Failure.SIGN_IN),  # TMI's real status is 400
    (errors.ClientCredentialsRefused, _status(errors.ClientCredentialsRefused, 401), Failure.SIGN_IN),
    (errors.Forbidden, _status(errors.Forbidden), Failure.FORBIDDEN),
    (errors.NotFound, _status(errors.NotFound), Failure.NOT_FOUND),
    (errors.MethodNotAllowed, _status(errors.MethodNotAllowed), Failure.UNSUPPORTED),
    (errors.NotAcceptable, _status(errors.NotAcceptable), Failure.UNSUPPORTED),
    (errors.Conflict, _status(errors.Conflict), Failure.REFUSED),
    (errors.VersionMismatch, _status(errors.VersionMismatch, 409), Failure.REFUSED),
    (errors.UnsupportedMediaType, _status(errors.UnsupportedMediaType), Failure.UNSUPPORTED),
    (errors.PreconditionRequired, _status(errors.PreconditionRequired), Failure.REFUSED),
    (errors.RateLimited, _status(errors.RateLimited), Failure.TRANSIENT),
    (errors.InternalServerError, _status(errors.InternalServerError), Failure.TRANSIENT),
    (errors.BadGateway, _status(errors.BadGateway), Failure.TRANSIENT),
    (errors.ServiceUnavailable, _status(errors.ServiceUnavailable), Failure.TRANSIENT),
    (errors.GatewayTimeout, _status(errors.GatewayTimeout), Failure.TRANSIENT),
    (errors.UnexpectedStatus, _status(errors.UnexpectedStatus, 507), Failure.TRANSIENT),
]


def test_the_table_covers_every_error_class():
    defined = {cls for _, cls in inspect.getmembers(errors, inspect.isclass) if issubclass(cls, errors.TMIError)}
    assert defined == {cls for cls, _, _ in KINDS}


@pytest.mark.parametrize("cls, error, kind", KINDS, ids=[cls.__name__ for cls, _, _ in KINDS])
def test_every_client_error_has_a_kind(cls, error, kind):
    assert type(error) is cls
    assert failure_of(error) is kind
    assert kind.transient is (kind is Failure.TRANSIENT)


@pytest.mark.parametrize(
    "status, kind",
    [
        (400, Failure.REFUSED),
        (401, Failure.SIGN_IN),
        (403, Failure.FORBIDDEN),
        (404, Failure.NOT_FOUND),
        (410, Failure.NOT_FOUND),
        (405, Failure.UNSUPPORTED),
        (501, Failure.UNSUPPORTED),
        (408, Failure.TRANSIENT),
        (429, Failure.TRANSIENT),
        (500, Failure.TRANSIENT),
        (599, Failure.TRANSIENT),
        (409, Failure.REFUSED),
        (422, Failure.REFUSED),
    ],
)
def test_statuses(status, kind):
    assert failure_of_status(status) is kind
    assert failure_of(errors.UnexpectedStatus(status_code=status, error="e")) is kind


def test_what_the_collaboration_socket_lets_through_is_classified_too():
    def refused(status: int) -> InvalidStatus:
        return InvalidStatus(Response(status, "", Headers()))

    assert failure_of(refused(403)) is Failure.FORBIDDEN
    assert failure_of(refused(404)) is Failure.NOT_FOUND
    assert failure_of(refused(401)) is Failure.SIGN_IN
    assert failure_of(refused(503)) is Failure.TRANSIENT
    assert failure_of(InvalidMessage("did not receive a valid HTTP response")) is Failure.TRANSIENT
    assert failure_of(ConnectionRefusedError()) is Failure.TRANSIENT
    assert failure_of(TimeoutError()) is Failure.TRANSIENT
    # Not the client's: a bug, for the caller to let through.
    assert failure_of(ValueError("bug")) is None and failure_of(KeyError("x")) is None


def test_a_recast_error_is_what_its_class_says():
    """0.217 answers a missing permission on /collaborate with 401; the client recasts it as Forbidden."""
    refused = errors.Unauthorized(status_code=401, error="unauthorized", error_description="no permission")
    recast = refused.recast(errors.Forbidden)
    assert recast.status_code == 401 and failure_of(recast) is Failure.FORBIDDEN


def test_the_classification_is_exported_from_the_package():
    assert portal.tmi.Failure is Failure and portal.tmi.failure_of is failure_of


# -- retries derive from the kind ----------------------------------------------------------------------
@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 507, 400, 401, 403, 404, 405, 409, 501])
def test_an_idempotent_request_is_retried_exactly_for_transient_statuses(status):
    policy = RetryPolicy(jitter=lambda: 0.0)
    retried = policy.delay(RetryMode.IDEMPOTENT, 0, status=status, headers={}) is not None
    assert retried is failure_of_status(status).transient


def test_an_unsafe_request_is_retried_only_when_surely_not_processed():
    policy = RetryPolicy(jitter=lambda: 0.0)
    for status in (408, 500, 502, 504):  # transient, but the server may have done it
        assert policy.delay(RetryMode.UNSAFE, 0, status=status, headers={}) is None
    for status in (429, 503):
        assert policy.delay(RetryMode.UNSAFE, 0, status=status, headers={}) is not None
    assert policy.delay(RetryMode.UNSAFE, 0, status=404, headers={}) is None


def test_work_retried_as_a_whole_waits_for_transient_failures_only():
    policy = RetryPolicy(max_retries=3, base_delay=10.0, max_delay=300.0, max_retry_after=300.0, jitter=lambda: 1.0)
    busy = _status(errors.ServiceUnavailable)  # Retry-After: 7
    assert policy.wait(busy, 0) == 7.0
    assert policy.wait(errors.APIConnectionError("reset"), 0) == 10.0  # no Retry-After: the backoff
    assert policy.wait(errors.APIConnectionError("reset"), 2) == 40.0
    assert policy.wait(busy, 3) is None  # tries spent
    for other in (_status(errors.NotFound), _status(errors.Unauthorized), errors.MalformedResponse("x")):
        assert policy.wait(other, 0) is None
    long = errors.ServiceUnavailable(status_code=503, error="e", headers={"Retry-After": "86400"})
    assert policy.wait(long, 0) == 300.0  # capped


# -- real answers of both generations ----------------------------------------------------------------
@pytest.mark.parametrize(
    "fault, kind",
    [
        ({"status": 503, "retry_after": 1}, Failure.TRANSIENT),
        ({"status": 429, "retry_after": 1}, Failure.TRANSIENT),
        ({"status": 502}, Failure.TRANSIENT),
        ({"status": 404}, Failure.NOT_FOUND),
        ({"status": 403}, Failure.FORBIDDEN),
        ({"body": "<html>a proxy's page</html>"}, Failure.MALFORMED),
    ],
)
def test_the_sandboxs_faults_are_classified(sandbox, alice_tokens, fault, kind):
    add_fault(sandbox.base_url, path_prefix="/threat_models", times=1, **fault)
    with portal.tmi.TMIClient(sandbox.base_url, auth=alice_tokens, max_retries=0) as client:
        with pytest.raises(errors.TMIError) as raised:
            client.threat_models.list()
    assert failure_of(raised.value) is kind


def test_a_server_that_is_not_there_is_transient():
    with portal.tmi.TMIClient("http://127.0.0.1:9", max_retries=0, timeout=2) as client:
        with pytest.raises(errors.TMIError) as raised:
            client.discovery()
    assert failure_of(raised.value) is Failure.TRANSIENT
    assert isinstance(raised.value, errors.APIConnectionError)
