"""The real servers' rate limits (portal/sandbox/limits.py; PROTOCOL.md 2.5, 12.12, 12.13, 12b.2), with the
sandbox's limits on (the suite's sandboxes have them off unless a test asks: tests/conftest.py)."""

from __future__ import annotations

import httpx
import pytest

from portal.sandbox import seed
from portal.sandbox.cli import add_arguments, config_from
from portal.sandbox.config import SandboxConfig
from tests.sandbox.helpers import bearer, pkce_pair

REMOTE = {"X-Forwarded-For": "203.0.113.7, 10.0.0.1"}  # the first address is the client's
ELSEWHERE = {"X-Forwarded-For": "198.51.100.9"}
RATE_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


def auth_calls(client: httpx.Client, count: int, headers: dict[str, str] | None = None) -> list[httpx.Response]:
    """`count` calls spread over the three auth-flow endpoints, none carrying a state, code or login hint
    (so only the per-IP scope counts them)."""
    calls = (
        lambda: client.get("/oauth2/authorize", headers=headers),
        lambda: client.post("/oauth2/token", json={}, headers=headers),
        lambda: client.post("/oauth2/refresh", json={"refresh_token": "spent"}, headers=headers),
    )
    return [calls[i % 3]() for i in range(count)]


def authorize(client: httpx.Client, *, state: str, hint: str | None = None, headers=None) -> httpx.Response:
    _, challenge = pkce_pair()
    params = {
        "scope": "openid",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "client_callback": "http://127.0.0.1:8000/callback",
        "state": state,
    }
    if hint:
        params["login_hint"] = hint
    return client.get("/oauth2/authorize", params=params, headers=headers)


def advance(client: httpx.Client, seconds: float) -> None:
    client.post("/_sandbox/clock", json={"advance_seconds": seconds}).raise_for_status()


def assert_blocked(response: httpx.Response, *, scope: str, limit: int) -> dict:
    assert response.status_code == 429, response.text
    assert response.headers["x-ratelimit-scope"] == scope
    assert response.headers["x-ratelimit-limit"] == str(limit)
    assert response.headers["x-ratelimit-remaining"] == "0"
    assert 1 <= int(response.headers["retry-after"]) <= 3600
    assert int(response.headers["x-ratelimit-reset"]) > 0
    return response.json()


# -- 1.8.22 ------------------------------------------------------------------------------------------------
@pytest.fixture
def limited_18(sandbox_factory):
    server = sandbox_factory("1.8", seed=None, rate_limits=True)
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield client


def test_the_101st_auth_flow_call_from_one_address_in_a_minute_is_429_ip_scope_at_18(limited_18):
    answers = auth_calls(limited_18, 100, REMOTE)
    assert all(a.status_code in (400, 401) for a in answers), {a.status_code for a in answers}
    blocked = limited_18.post("/oauth2/refresh", json={"refresh_token": "x"}, headers=REMOTE)
    body = assert_blocked(blocked, scope="ip", limit=100)
    assert body == {
        "error": "rate_limit_exceeded",
        "error_description": "Auth flow rate limit exceeded (ip scope). Please retry after the specified time.",
    }
    assert int(blocked.headers["retry-after"]) <= 60
    # Another address has its own count; the window slides: a minute later the first is answered again.
    assert limited_18.post("/oauth2/token", json={}, headers=ELSEWHERE).status_code == 400
    advance(limited_18, 61)
    assert limited_18.post("/oauth2/token", json={}, headers=REMOTE).status_code == 400


def test_loopback_clients_are_exempt_from_the_ip_scope_at_18_unless_the_sandbox_counts_them(sandbox_factory):
    exempt = sandbox_factory("1.8", seed=None, rate_limits=True)
    counted = sandbox_factory("1.8", seed=None, rate_limits=True, rate_limit_loopback=True)
    with httpx.Client(base_url=exempt.base_url, timeout=10) as client:
        assert 429 not in {a.status_code for a in auth_calls(client, 101)}
    with httpx.Client(base_url=counted.base_url, timeout=10) as client:
        answers = auth_calls(client, 101)
    assert 429 not in {a.status_code for a in answers[:100]}
    assert_blocked(answers[100], scope="ip", limit=100)


def test_per_state_100_and_per_login_hint_50_a_minute_at_18(limited_18):
    for _ in range(100):
        assert authorize(limited_18, state="one-state").status_code == 302
    assert_blocked(authorize(limited_18, state="one-state"), scope="session", limit=100)
    for n in range(50):
        assert authorize(limited_18, state=f"s{n}", hint="alice").status_code == 302
    body = assert_blocked(authorize(limited_18, state="fresh", hint="Alice"), scope="user", limit=50)
    assert body["error_description"].startswith("Auth flow rate limit exceeded (user scope)")
    assert authorize(limited_18, state="fresh", hint="bob").status_code == 302


def test_a_form_body_s_client_id_is_the_user_and_a_good_exchange_clears_its_count_at_18(sandbox_factory):
    """1.8 also reads form bodies (client_credentials): 50 refused secrets a minute per client_id, and a 200
    from /oauth2/token forgets that client's count (its ResetUserRateLimit)."""
    server = sandbox_factory("1.8", rate_limits=True)
    owner = seed.ensure_user(server.state, "alice")
    record, secret = server.state.credential_create(owner, name="exporter")
    wrong = {"grant_type": "client_credentials", "client_id": record.client_id, "client_secret": "wrong"}
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        for _ in range(49):
            assert client.post("/oauth2/token", data=wrong).status_code == 401
        good = client.post("/oauth2/token", data={**wrong, "client_secret": secret})
        assert good.status_code == 200
        for _ in range(50):  # counted from nothing again
            assert client.post("/oauth2/token", data=wrong).status_code == 401
        assert_blocked(client.post("/oauth2/token", data=wrong), scope="user", limit=50)


def test_allowed_auth_flow_answers_say_the_session_scope_s_count_at_18(limited_18):
    first = authorize(limited_18, state="counted")
    second = authorize(limited_18, state="counted")
    assert first.status_code == second.status_code == 302
    assert first.headers["x-ratelimit-limit"] == "100" and "x-ratelimit-scope" not in first.headers
    assert (first.headers["x-ratelimit-remaining"], second.headers["x-ratelimit-remaining"]) == ("99", "98")
    assert "x-ratelimit-limit" not in limited_18.get("/oauth2/providers").headers  # not an auth-flow path


def test_1100_rest_calls_a_minute_get_no_429_and_no_rate_limit_headers_at_18(sandbox_factory):
    """PROTOCOL.md 12.12, with every limit on and loopback counted."""
    server = sandbox_factory("1.8", rate_limits=True, rate_limit_loopback=True)
    tokens = server.state.issue_tokens(seed.ensure_user(server.state, "alice"))
    with httpx.Client(base_url=server.base_url, headers=bearer(tokens), timeout=10) as client:
        answers = [client.get("/threat_models", params={"limit": 1}) for _ in range(1100)]
    assert {a.status_code for a in answers} == {200}
    assert not [h for a in answers for h in a.headers if h.lower().startswith("x-ratelimit")]


# -- 0.217.8 -----------------------------------------------------------------------------------------------
@pytest.fixture
def limited_0217(sandbox_factory):
    server = sandbox_factory("0.217", seed=None, rate_limits=True)
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield client


def test_get_root_is_ten_a_minute_per_address_loopback_included_at_0217(limited_0217):
    answers = [limited_0217.get("/") for _ in range(10)]
    assert {a.status_code for a in answers} == {200}
    assert [a.headers["x-ratelimit-remaining"] for a in answers] == [str(n) for n in range(9, -1, -1)]
    assert all(a.headers["x-ratelimit-limit"] == "10" for a in answers)
    blocked = limited_0217.get("/")
    assert blocked.status_code == 429 and blocked.headers["x-ratelimit-remaining"] == "0"
    assert "x-ratelimit-scope" not in blocked.headers and 1 <= int(blocked.headers["retry-after"]) <= 60
    assert blocked.json() == {
        "code": "rate_limit_exceeded",
        "message": "IP rate limit exceeded. Please retry after the specified time.",
        "details": {"limit": 10, "scope": "ip", "window": "minute", "retry_after": int(blocked.headers["retry-after"])},
    }
    advance(limited_0217, 61)
    assert limited_0217.get("/").status_code == 200


def test_ten_sign_ins_an_hour_per_login_hint_at_0217(limited_0217):
    for n in range(10):
        assert authorize(limited_0217, state=f"s{n}", hint="alice").status_code == 302
    body = assert_blocked(authorize(limited_0217, state="later", hint="ALICE"), scope="user", limit=10)
    assert body["code"] == "rate_limit_exceeded" and body["details"]["scope"] == "user"
    assert body["message"] == "Auth flow rate limit exceeded (user scope). Please retry after the specified time."
    advance(limited_0217, 120)  # an hour's window: a minute later still refused
    assert authorize(limited_0217, state="later2", hint="alice").status_code == 429
    advance(limited_0217, 3600)
    assert authorize(limited_0217, state="later3", hint="alice").status_code == 302


def test_five_a_minute_per_state_and_100_per_address_at_0217(limited_0217):
    for _ in range(5):
        assert authorize(limited_0217, state="same").status_code == 302
    assert_blocked(authorize(limited_0217, state="same"), scope="session", limit=5)
    auth_calls(limited_0217, 95)  # 100 from this address in all (the refused sixth was not counted)
    body = assert_blocked(limited_0217.post("/oauth2/token", json={}), scope="ip", limit=100)
    assert body["details"] == {"limit": 100, "scope": "ip", "retry_after": body["details"]["retry_after"]}


def test_allowed_sign_in_answers_say_the_state_s_count_at_0217(limited_0217):
    answer = authorize(limited_0217, state="counted")
    assert answer.status_code == 302
    assert [answer.headers[h] for h in RATE_HEADERS[:2]] == ["5", "4"]


def test_a_reset_forgets_the_counts(limited_0217):
    for _ in range(10):
        limited_0217.get("/")
    assert limited_0217.get("/").status_code == 429
    limited_0217.post("/_sandbox/reset").raise_for_status()
    assert limited_0217.get("/").status_code == 200


def test_limits_switched_off_answer_without_them(sandbox_factory):
    server = sandbox_factory("0.217", seed=None, rate_limits=False)
    answers = [httpx.get(f"{server.base_url}/") for _ in range(12)]
    assert {a.status_code for a in answers} == {200}
    assert not [h for a in answers for h in a.headers if h.lower().startswith("x-ratelimit")]


def test_limits_are_on_by_default_and_the_command_line_turns_them_off():
    import argparse

    assert SandboxConfig().rate_limits is True and SandboxConfig().rate_limit_loopback is False
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    by_hand = config_from(vars(parser.parse_args(["--tmi-version", "0.217"])))
    assert by_hand.rate_limits is True
    switched = config_from(vars(parser.parse_args(["--no-rate-limits", "--rate-limit-loopback"])))
    assert switched.rate_limits is False and switched.rate_limit_loopback is True
