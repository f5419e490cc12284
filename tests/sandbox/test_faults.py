"""Fault hooks under /_sandbox/ (not part of TMI): injected latency, statuses and raw bodies."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.sandbox import helpers


@pytest.fixture
def client(sandbox):
    with httpx.Client(base_url=sandbox.base_url, timeout=10) as c:
        yield c


def add_fault(sandbox, **spec) -> dict:
    return helpers.add_fault(sandbox.base_url, **{"path_prefix": "/oauth2/providers", **spec})


def test_503_carries_retry_after_and_tmi_error_body(sandbox, client):
    add_fault(sandbox, status=503)
    response = client.get("/oauth2/providers")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"
    assert response.json()["error"] == "service_unavailable"


def test_429_carries_rate_limit_headers(sandbox, client):
    add_fault(sandbox, status=429, retry_after=2)
    response = client.get("/oauth2/providers")
    assert response.status_code == 429
    assert response.json()["error"] == "rate_limit_exceeded"
    assert response.headers["retry-after"] == "2"
    assert response.headers["x-ratelimit-remaining"] == "0"
    assert int(response.headers["x-ratelimit-limit"]) > 0
    assert int(response.headers["x-ratelimit-reset"]) >= int(sandbox.state.now())


def test_times_counts_down_then_the_real_answer_returns(sandbox, client):
    add_fault(sandbox, status=500, times=2)
    assert [client.get("/oauth2/providers").status_code for _ in range(3)] == [500, 500, 200]
    assert client.get("/_sandbox/faults").json() == {"faults": []}


def test_latency_delays_the_real_answer(sandbox, client):
    add_fault(sandbox, latency_ms=300, times=1)
    started = time.monotonic()
    response = client.get("/oauth2/providers")
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200 and response.json()["providers"]


def test_raw_body_replaces_the_answer(sandbox, client):
    add_fault(sandbox, body='{"providers": [', times=1)
    response = client.get("/oauth2/providers")
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_method_and_prefix_select_requests(sandbox, client):
    add_fault(sandbox, method="POST", status=503, path_prefix="/oauth2/")
    assert client.get("/oauth2/providers").status_code == 200
    assert client.post("/oauth2/refresh", json={}).status_code == 503
    assert client.get("/").status_code == 200


def test_faults_are_listed_and_cleared(sandbox, client):
    fault = add_fault(sandbox, status=503)
    listed = client.get("/_sandbox/faults").json()["faults"]
    assert [f["id"] for f in listed] == [fault["id"]]
    assert listed[0]["status"] == 503 and listed[0]["times"] is None
    helpers.clear_faults(sandbox.base_url)
    assert client.get("/oauth2/providers").status_code == 200
    assert client.get("/_sandbox/faults").json() == {"faults": []}


def test_faults_never_hit_the_control_routes(sandbox, client):
    add_fault(sandbox, status=503, path_prefix="/")
    assert client.get("/_sandbox/health").status_code == 200
    assert client.get("/").status_code == 503


@pytest.mark.parametrize("spec", [{"status": "503"}, {"times": 0}, {"status": 42}, {"bogus": 1}, []])
def test_bad_fault_specs_are_rejected(client, spec):
    assert client.post("/_sandbox/faults", json=spec).status_code == 400


def test_clock_advance_validation(client):
    assert client.post("/_sandbox/clock", json={"advance_seconds": -1}).status_code == 400
    assert client.post("/_sandbox/clock", json={}).status_code == 400


def test_health(client, generation):
    assert client.get("/_sandbox/health").json() == {"status": "ok", "generation": generation}
