import email.utils
import json

import httpx
import pytest

from portal.tmi import errors
from portal.tmi.errors import parse_retry_after, status_error


def response(status, body=None, *, text=None, headers=None):
    request = httpx.Request("GET", "http://tmi.test/threat_models")
    content = text if text is not None else json.dumps(body)
    return httpx.Response(status, content=content.encode(), headers=headers or {}, request=request)


@pytest.mark.parametrize(
    "status, cls",
    [
        (400, errors.BadRequest),
        (401, errors.Unauthorized),
        (403, errors.Forbidden),
        (404, errors.NotFound),
        (405, errors.MethodNotAllowed),
        (406, errors.NotAcceptable),
        (409, errors.Conflict),
        (415, errors.UnsupportedMediaType),
        (428, errors.PreconditionRequired),
        (429, errors.RateLimited),
        (500, errors.InternalServerError),
        (502, errors.BadGateway),
        (503, errors.ServiceUnavailable),
        (504, errors.GatewayTimeout),
        (418, errors.UnexpectedStatus),
    ],
)
def test_one_class_per_status(status, cls):
    error = status_error(response(status, {"error": "x"}))
    assert type(error) is cls and error.status_code == status
    assert isinstance(error, errors.TMIStatusError) and isinstance(error, errors.TMIError)


def test_full_error_body_is_carried_with_the_request():
    error = status_error(
        response(
            400,
            {
                "error": "invalid_input",
                "error_description": "name is required",
                "details": {"code": "c", "suggestion": "s"},
            },
        )
    )
    assert (error.error, error.error_description, error.details) == (
        "invalid_input",
        "name is required",
        {"code": "c", "suggestion": "s"},
    )
    assert (error.method, error.url) == ("GET", "http://tmi.test/threat_models")
    assert "400 invalid_input: name is required" in str(error)


def test_bare_and_non_json_bodies():
    bare = status_error(response(400, {"error": "Failed to refresh token: expired"}))
    assert bare.error == "Failed to refresh token: expired" and bare.error_description == ""
    html = status_error(response(502, text="<html>Bad gateway</html>"))
    assert html.error == "Bad Gateway" and "Bad gateway" in html.error_description
    legacy_null_details = status_error(
        response(403, {"error": "forbidden", "error_description": "no", "details": None})
    )
    assert legacy_null_details.details is None


def test_version_mismatch_is_a_conflict_subclass():
    error = status_error(response(409, {"error": "version_mismatch", "error_description": "stale"}))
    assert isinstance(error, errors.VersionMismatch) and isinstance(error, errors.Conflict)
    assert type(status_error(response(409, {"error": "conflict"}))) is errors.Conflict


def test_0217_wrong_method_400_means_method_not_allowed():
    """The real 0.217.8 answers a wrong method 400 invalid_input "method not allowed": the client calls it what
    it is (the server does not offer this), keeping TMI's status; any other 400 stays a BadRequest."""
    from portal.tmi.failures import Failure, failure_of

    body = {"error": "invalid_input", "error_description": "method not allowed", "details": None}
    error = status_error(response(400, body, headers={"Allow": "GET, POST"}))
    assert isinstance(error, errors.MethodNotAllowed) and error.status_code == 400
    assert failure_of(error) is Failure.UNSUPPORTED
    other = status_error(response(400, {**body, "error_description": "name is required"}))
    assert type(other) is errors.BadRequest and failure_of(other) is Failure.REFUSED


def test_rate_limited_exposes_retry_after():
    error = status_error(response(429, {"error": "rate_limit_exceeded"}, headers={"Retry-After": "7"}))
    assert error.retry_after == 7.0 and error.headers["retry-after"] == "7"


def test_retry_after_seconds_dates_and_garbage():
    now = 1_800_000_000.0
    assert parse_retry_after("3", now=now) == 3.0
    assert parse_retry_after(email.utils.formatdate(now + 12, usegmt=True), now=now) == pytest.approx(12, abs=1)
    assert parse_retry_after(email.utils.formatdate(now - 50, usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("-5") == 0.0


def test_refresh_failed_is_an_unauthorized():
    assert issubclass(errors.RefreshFailed, errors.Unauthorized)
