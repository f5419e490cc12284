"""1.8's webhooks (portal/sandbox/webhooks.py; PROTOCOL.md 12.21): administrators' subscriptions, refused
loopback targets, the challenge handshake, signed deliveries, and only threat-model events sent. A small
receiver on loopback (allowed by the sandbox's setting, as the real SSRF allow-list would) records what TMI
sends."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from portal.sandbox import seed
from tests.sandbox.helpers import bearer, login
from tests.sandbox.rest_world import Api, threat_body

SUBSCRIPTIONS = "/admin/webhooks/subscriptions"
TM_EVENTS = ["threat_model.created", "threat_model.updated", "threat_model.deleted"]
THREAT_EVENTS = ["threat.created", "threat.updated", "threat.deleted"]
FAST = {"webhook_challenge_interval_seconds": 0.02, "webhook_delivery_interval_seconds": 0.02}


class Receiver:
    """An HTTP receiver on 127.0.0.1 that records each POST (headers, raw body) and answers challenges."""

    def __init__(self, *, answers_challenges: bool = True) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.answers_challenges = answers_challenges
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.received.append((headers, raw))
                answer = b"{}"
                if headers.get("x-webhook-event") == "webhook.challenge" and receiver.answers_challenges:
                    answer = json.dumps({"challenge": json.loads(raw)["challenge"]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/tmi"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def events(self) -> list[tuple[dict[str, str], bytes]]:
        return [(h, b) for h, b in self.received if h.get("x-webhook-event") != "webhook.challenge"]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_until(check: Callable[[], object], timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.01)
    raise AssertionError("timed out waiting")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def server(sandbox_factory):
    return sandbox_factory(
        "1.8", seed=None, webhook_allow_http_targets=True, webhook_allowed_hosts=["127.0.0.1"], **FAST
    )


@pytest.fixture
def admin(server) -> Api:
    api = Api(server, "alice")
    api.user.is_admin = True
    return api


def subscribe(admin: Api, url: str, events: list[str], **extra) -> dict:
    created = admin.post(SUBSCRIPTIONS, {"name": "Portal", "url": url, "events": events, **extra})
    assert created.status_code == 201, created.text
    return created.json()


def active(admin: Api, receiver: Receiver, events: list[str]) -> dict:
    sub = subscribe(admin, receiver.url, events)
    wait_until(lambda: admin.get(f"{SUBSCRIPTIONS}/{sub['id']}").json()["status"] == "active")
    return sub


def test_only_administrators_may_subscribe(server, receiver):
    alice = Api(server, "alice")
    body = {"name": "Mine", "url": receiver.url, "events": TM_EVENTS}
    for refused in (alice.post(SUBSCRIPTIONS, body), alice.get(SUBSCRIPTIONS)):
        assert refused.status_code == 403
        assert refused.json() == {"error": "forbidden", "error_description": "Administrator access required"}
    alice.user.is_admin = True
    created = alice.post(SUBSCRIPTIONS, body)
    assert created.status_code == 201
    sub = created.json()
    assert sub["status"] == "pending_verification" and sub["owner_id"] == alice.user.internal_uuid
    assert len(sub["secret"]) == 64 and sub["events"] == TM_EVENTS
    shown = alice.get(f"{SUBSCRIPTIONS}/{sub['id']}").json()
    assert "secret" not in shown and shown["id"] == sub["id"]  # the secret is shown once
    listed = alice.get(SUBSCRIPTIONS).json()
    assert listed["total"] == 1 and [s["id"] for s in listed["subscriptions"]] == [sub["id"]]
    assert alice.post(SUBSCRIPTIONS, {**body, "bogus": 1}).status_code == 400  # the strict input schema


def test_an_administrator_owns_at_most_ten_subscriptions(admin, receiver, server):
    for n in range(10):
        created = admin.post(SUBSCRIPTIONS, {"name": f"n{n}", "url": receiver.url, "events": TM_EVENTS})
        assert created.status_code == 201 and created.headers["x-ratelimit-limit"] == "10"
    refused = admin.post(SUBSCRIPTIONS, {"name": "n10", "url": receiver.url, "events": TM_EVENTS})
    assert refused.status_code == 429 and refused.headers["retry-after"] == "60"
    assert refused.json() == {
        "error": "rate_limit_exceeded",
        "error_description": "subscription limit exceeded: 10/10 (limit: 10)",
    }
    other = Api(server, "bob")
    other.user.is_admin = True
    assert other.post(SUBSCRIPTIONS, {"name": "b", "url": receiver.url, "events": TM_EVENTS}).status_code == 201


def test_loopback_localhost_and_plain_http_targets_are_refused(sandbox_factory):
    strict = sandbox_factory("1.8", seed=None)
    alice = Api(strict, "alice")
    alice.user.is_admin = True
    refusals = {
        "https://127.0.0.1:9443/hook": "URL blocked: Block loopback addresses (127.0.0.0/8) (pattern: 127.*)",
        "https://localhost/hook": "URL blocked: Block localhost (pattern: localhost)",
        "https://169.254.169.254/latest": "URL blocked: Block link-local addresses (169.254.0.0/16) (pattern: 169.254.*)",
        "http://hooks.example.com/tmi": "URL must start with https:// (found: http://h)",
    }
    for url, reason in refusals.items():
        answer = alice.post(SUBSCRIPTIONS, {"name": "x", "url": url, "events": TM_EVENTS})
        assert answer.status_code == 400, url
        assert answer.json() == {"error": f"invalid webhook URL: {reason}", "error_description": ""}
    good = alice.post(SUBSCRIPTIONS, {"name": "x", "url": "https://hooks.example.com/tmi", "events": TM_EVENTS})
    assert good.status_code == 201


def test_the_challenge_handshake_activates_a_subscription(admin, receiver):
    sub = active(admin, receiver, TM_EVENTS)
    headers, raw = receiver.received[0]
    assert headers["x-webhook-event"] == "webhook.challenge"
    assert headers["x-webhook-subscription-id"] == sub["id"]
    body = json.loads(raw)
    assert body["type"] == "webhook.challenge" and len(body["challenge"]) == 64


def test_a_target_that_never_answers_the_challenge_gets_nothing(admin):
    silent = Receiver(answers_challenges=False)
    try:
        sub = subscribe(admin, silent.url, TM_EVENTS)
        wait_until(lambda: admin.get(f"{SUBSCRIPTIONS}/{sub['id']}").json()["status"] == "pending_delete")
        assert len(silent.received) == 3  # three challenges, then given up
        assert admin.post("/threat_models", {"name": "Quiet"}).status_code == 201
        time.sleep(0.2)
        assert silent.events() == []
    finally:
        silent.close()


def test_threat_model_writes_send_signed_events_and_threat_writes_send_none(admin, receiver):
    sub = active(admin, receiver, TM_EVENTS + THREAT_EVENTS)
    created = admin.post("/threat_models", {"name": "Payments", "description": "Card flows"})
    assert created.status_code == 201
    tm = created.json()["id"]
    wait_until(lambda: len(receiver.events()) == 1)
    assert admin.post(f"/threat_models/{tm}/threats", threat_body(False)).status_code == 201
    threat = admin.get(f"/threat_models/{tm}/threats").json()["threats"][0]["id"]
    assert admin.put(f"/threat_models/{tm}/threats/{threat}", threat_body(False, name="Renamed")).status_code == 200
    assert admin.delete(f"/threat_models/{tm}/threats/{threat}").status_code == 204
    assert (
        admin.patch(f"/threat_models/{tm}", [{"op": "replace", "path": "/name", "value": "Payments v2"}]).status_code
        == 200
    )
    wait_until(lambda: len(receiver.events()) >= 2)
    assert admin.delete(f"/threat_models/{tm}").status_code == 204
    wait_until(lambda: len(receiver.events()) >= 3)
    time.sleep(0.1)  # deliveries go in order: a threat event queued earlier would have come before these

    events = receiver.events()
    assert [h["x-webhook-event"] for h, _ in events] == TM_EVENTS
    for headers, raw in events:
        expected = "sha256=" + hmac.new(sub["secret"].encode(), raw, hashlib.sha256).hexdigest()
        assert headers["x-webhook-signature"] == expected
        assert headers["x-webhook-subscription-id"] == sub["id"] and headers["x-webhook-delivery-id"]
        assert headers["content-type"] == "application/json"
    bodies = [json.loads(raw) for _, raw in events]
    assert bodies[0] == {
        "event_type": "threat_model.created",
        "threat_model_id": tm,
        "object_id": tm,
        "object_type": "threat_model",
        "owner_id": admin.user.internal_uuid,
        "timestamp": bodies[0]["timestamp"],
        "data": {"name": "Payments", "description": "Card flows"},
    }
    assert bodies[1]["data"]["name"] == "Payments v2" and bodies[2]["data"] == {"name": "Payments v2"}
    deliveries = admin.get("/admin/webhooks/deliveries", params={"subscription_id": sub["id"]}).json()
    assert deliveries["total"] == 3 and {d["status"] for d in deliveries["deliveries"]} == {"delivered"}


def test_events_go_only_to_subscriptions_of_the_model_s_owner(admin, receiver, server):
    active(admin, receiver, TM_EVENTS)
    bob = Api(server, "bob")
    assert bob.post("/threat_models", {"name": "Bob's"}).status_code == 201
    assert admin.post("/threat_models", {"name": "Alice's"}).status_code == 201
    wait_until(lambda: receiver.events())
    time.sleep(0.1)
    assert [json.loads(raw)["data"]["name"] for _, raw in receiver.events()] == ["Alice's"]


def test_the_test_call_sends_a_signed_test_delivery(admin, receiver):
    sub = active(admin, receiver, ["threat_model.updated"])
    answer = admin.post(f"{SUBSCRIPTIONS}/{sub['id']}/test")
    assert answer.status_code == 202
    headers, raw = wait_until(lambda: receiver.events())[0]
    assert headers["x-webhook-event"] == "threat_model.updated"
    assert headers["x-webhook-delivery-id"] == answer.json()["delivery_id"]
    assert json.loads(raw)["type"] == "test"
    assert (
        headers["x-webhook-signature"] == "sha256=" + hmac.new(sub["secret"].encode(), raw, hashlib.sha256).hexdigest()
    )
    gone = admin.delete(f"{SUBSCRIPTIONS}/{sub['id']}")
    assert gone.status_code == 204
    assert admin.get(f"{SUBSCRIPTIONS}/{sub['id']}").json() == {
        "error": "subscription not found",
        "error_description": "",
    }


def test_a_reset_forgets_the_subscriptions(admin, receiver, server):
    subscribe(admin, receiver.url, TM_EVENTS)
    server.reset()
    again = Api(server, "alice")
    again.user.is_admin = True
    assert again.get(SUBSCRIPTIONS).json()["total"] == 0


def test_an_administrator_listed_in_the_config_is_one_after_signing_in(sandbox_factory):
    server = sandbox_factory("1.8", seed=None, administrators=["alice"])
    alice = login(server.base_url, "alice")
    assert httpx.get(f"{server.base_url}/me", headers=bearer(alice)).json()["is_admin"] is True
    assert httpx.get(f"{server.base_url}{SUBSCRIPTIONS}", headers=bearer(alice)).status_code == 200
    bob = login(server.base_url, "bob")
    assert httpx.get(f"{server.base_url}{SUBSCRIPTIONS}", headers=bearer(bob)).status_code == 403


def test_0217_has_no_admin_webhooks(sandbox_factory):
    server = sandbox_factory("0.217", seed=None)
    tokens = server.state.issue_tokens(seed.ensure_user(server.state, "alice"))
    assert httpx.get(f"{server.base_url}{SUBSCRIPTIONS}", headers=bearer(tokens)).status_code == 404
