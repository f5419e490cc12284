"""The validators can fail: deliberately wrong exchanges and frames are reported, right ones are not."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from portal.conformance.contract.asyncapi import asyncapi_contract
from portal.conformance.contract.deviations import DEVIATIONS, unexpected_properties
from portal.conformance.contract.recorder import AsyncValidatingTransport, ContractRecorder, ValidatingTransport
from portal.conformance.contract.violations import ViolationPattern

BASE = "http://127.0.0.1:9"
BEARER = {"Authorization": "Bearer not-checked-here"}
UUID = "123e4567-e89b-12d3-a456-426614174000"
USER_1_8 = {
    "principal_type": "user",
    "provider": "tmi",
    "provider_id": "alice",
    "display_name": "Alice (TMI User)",
    "email": "alice@tmi.local",
}
PROTOCOL = Path("/work/shared/tmi/PROTOCOL.md")


def answering(status: int, body=None, headers: dict | None = None) -> httpx.MockTransport:
    """A stand-in server that gives every request the same answer (these tests are about the checker)."""
    return httpx.MockTransport(lambda request: httpx.Response(status, json=body, headers=headers))


def exchange(generation: str, method: str, path: str, answer: httpx.MockTransport, **kwargs) -> ContractRecorder:
    recorder = ContractRecorder(generation)
    with httpx.Client(base_url=BASE, transport=ValidatingTransport(recorder, inner=answer)) as client:
        client.request(method, path, **kwargs)
    return recorder


def providers_body(generation: str) -> dict:
    idp = "test" if generation == "0.217" else "tmi"
    return {
        "providers": [
            {
                "id": idp,
                "name": "Test",
                "icon": f"/static/{idp}.svg",
                "auth_url": f"{BASE}/oauth2/authorize?idp={idp}",
                "token_url": f"{BASE}/oauth2/token?idp={idp}",
                "redirect_uri": f"{BASE}/oauth2/callback",
                "client_id": "sandbox",
            }
        ]
    }


def test_a_valid_exchange_records_nothing(generation):
    recorder = exchange(generation, "GET", "/oauth2/providers", answering(200, providers_body(generation)))
    assert recorder.violations == []
    assert recorder.covered == {"GET /oauth2/providers -> 200": 1}


def test_a_list_item_without_id_is_reported(generation):
    item = {"name": "No id", "created_at": "2026-01-01T00:00:00Z", "modified_at": "2026-01-01T00:00:00Z"}
    body, at = ({"threat_models": [item], "total": 1, "limit": 20, "offset": 0}, "body/threat_models/0")
    if generation == "0.217":  # plain arrays in that era (PROTOCOL.md 9.3)
        body, at = [item], "body/0"
    recorder = exchange(generation, "GET", "/threat_models", answering(200, body), headers=BEARER)
    missing_id = ViolationPattern("response", "required", "GET /threat_models", at, "'id' is a required property")
    assert [v for v in recorder.violations if missing_id.matches(v)], recorder.violations


def test_an_unknown_field_in_a_strict_request_body_is_reported(generation):
    recorder = exchange(
        generation,
        "POST",
        "/threat_models",
        answering(400, {"error": "invalid_input", "error_description": "bad"}),
        json={"name": "TM", "version": 3},
        headers=BEARER,
    )
    [violation] = recorder.violations
    assert (violation.channel, violation.keyword, violation.location) == ("request", "additionalProperties", "body")
    assert "'version' was unexpected" in violation.message


def test_a_missing_bearer_token_is_reported(generation):
    recorder = exchange(
        generation, "GET", "/threat_models", answering(401, {"error": "unauthorized", "error_description": "no"})
    )
    assert [(v.channel, v.location) for v in recorder.violations] == [("request", "security")]


def test_an_undeclared_status_is_reported_but_an_undeclared_5xx_only_needs_an_error_body(generation):
    teapot = exchange(
        generation, "GET", "/oauth2/providers", answering(418, {"error": "teapot", "error_description": "short"})
    )
    assert [v.keyword for v in teapot.violations] == ["undeclared-status"]
    gateway = exchange(
        generation,
        "GET",
        "/oauth2/providers",
        answering(502, {"error": "bad_gateway", "error_description": "upstream"}),
    )
    assert gateway.violations == []
    garbled = exchange(generation, "GET", "/oauth2/providers", answering(502, {"error": 7}))
    assert {v.location for v in garbled.violations} >= {"body/error"}


def test_sandbox_control_routes_are_not_checked(generation):
    recorder = exchange(generation, "POST", "/_sandbox/faults", answering(418, "anything"))
    assert recorder.violations == [] and recorder.covered


def test_an_undocumented_operation_is_reported(generation):
    recorder = exchange(
        generation,
        "PUT",
        "/threat_models/" + UUID + "/diagrams/" + UUID + "/collaborate",
        answering(405, {"error": "method_not_allowed", "error_description": "no PUT"}),
        headers=BEARER,
    )
    assert [v.keyword for v in recorder.violations] == ["undocumented-operation"]


async def test_the_async_transport_checks_too(generation):
    recorder = ContractRecorder(generation)
    bad = {"providers": [{"id": "tmi"}]}
    transport = AsyncValidatingTransport(recorder, answering(200, bad))
    async with httpx.AsyncClient(base_url=BASE, transport=transport) as client:
        response = await client.get("/oauth2/providers")
    assert response.json() == bad  # the caller still gets the body the server sent
    assert {v.message for v in recorder.violations} >= {"'auth_url' is a required property"}


def test_expect_violation_needs_a_matching_violation(generation):
    recorder = ContractRecorder(generation)
    with pytest.raises(AssertionError, match="expected a violation"):
        with recorder.expect_violation(ViolationPattern("request", "security")):
            with httpx.Client(
                base_url=BASE, transport=ValidatingTransport(recorder, answering(200, providers_body(generation)))
            ) as client:
                client.get("/oauth2/providers")


def test_expect_violation_keeps_other_violations_as_unexpected(generation):
    recorder = ContractRecorder(generation)
    with recorder.expect_violation(ViolationPattern("request", "SecurityValidationError", location="security")):
        with httpx.Client(base_url=BASE, transport=ValidatingTransport(recorder, answering(418, {}))) as client:
            client.get("/threat_models")
    assert [v.keyword for v in recorder.unexpected()] == ["undeclared-status"]


def test_a_1_8_participants_update_with_a_string_user_is_reported():
    message = {
        "message_type": "participants_update",
        "host": USER_1_8,
        "current_presenter": None,
        "participants": [{"user": "alice", "permissions": "writer", "last_activity": "2026-01-01T00:00:00Z"}],
    }
    [violation] = asyncapi_contract("1.8").check("ws-receive", json.dumps(message))
    assert (violation.keyword, violation.location) == ("type", "participants/0/user")
    message["participants"][0]["user"] = USER_1_8
    assert asyncapi_contract("1.8").check("ws-receive", json.dumps(message)) == []


def test_the_generations_have_different_message_shapes():
    message = {
        "message_type": "participants_update",
        "host": USER_1_8,
        "current_presenter": USER_1_8,
        "participants": [
            {
                "user": {"user_id": "alice", "name": "Alice", "email": "alice@test.tmi"},
                "permissions": "writer",
                "last_activity": "2026-01-01T00:00:00Z",
            }
        ],
    }
    assert {v.location for v in asyncapi_contract("0.217").check("ws-receive", json.dumps(message))} == {
        "host",
        "current_presenter",
    }  # strings at 0.217 (PROTOCOL.md 9.5)
    renamed = {"message_type": "diagram_state_sync", "diagram_id": UUID, "update_vector": None, "cells": []}
    assert asyncapi_contract("0.217").check("ws-receive", json.dumps(renamed)) == []
    [unknown] = asyncapi_contract("1.8").check("ws-receive", json.dumps(renamed))
    assert unknown.keyword == "unknown-message-type"


def test_direction_matters():
    request = {"message_type": "sync_status_request"}
    assert asyncapi_contract("1.8").check("ws-send", json.dumps(request)) == []
    assert [v.keyword for v in asyncapi_contract("1.8").check("ws-receive", json.dumps(request))] == [
        "unknown-message-type"
    ]


def test_an_unknown_cell_property_is_reported_at_0_217():
    node = {"id": UUID, "shape": "process", "position": {"x": 1, "y": 2}, "size": {"width": 80, "height": 40}}
    state = {"message_type": "diagram_state_sync", "diagram_id": UUID, "update_vector": 3, "cells": [node]}
    assert asyncapi_contract("0.217").check("ws-receive", json.dumps(state)) == []
    node["label"] = "not a 0.217 cell property"
    [violation] = asyncapi_contract("0.217").check("ws-receive", json.dumps(state))
    assert violation.location == "cells/0" and "'label' was unexpected" in violation.message


def test_nullable_means_or_null():
    sync = {"message_type": "sync_request", "update_vector": None}
    assert asyncapi_contract("1.8").check("ws-send", json.dumps(sync)) == []
    sync["update_vector"] = "seven"
    assert [v.keyword for v in asyncapi_contract("1.8").check("ws-send", json.dumps(sync))] == ["anyOf"]


def test_oversized_and_non_json_frames_are_reported(generation):
    contract = asyncapi_contract(generation)
    presenter = "presenter_request"
    padded = json.dumps({"message_type": presenter}) + " " * 5000
    assert [v.keyword for v in contract.check("ws-send", padded)] == ["frame-size"]
    assert [v.keyword for v in contract.check("ws-receive", "not json")] == ["not-json"]


def test_every_deviation_is_pinned_and_cites_protocol_md():
    """Each entry pins where it applies: its operation, or (for cross-cutting ones) a location and a message."""
    sections = re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", PROTOCOL.read_text(), re.M) if PROTOCOL.exists() else None
    for deviation in DEVIATIONS:
        pattern = deviation.pattern
        assert pattern.location is not None, f"{deviation.id} must pin the location"
        assert pattern.operation or pattern.message, f"{deviation.id} must pin the operation or the message"
        assert deviation.section == "preamble" or re.fullmatch(r"\d+(\.\d+)?", deviation.section), deviation.id
        if sections is not None and deviation.section != "preamble":
            assert deviation.section in sections, f"{deviation.id} cites a section PROTOCOL.md lacks"
    assert len({deviation.id for deviation in DEVIATIONS}) == len(DEVIATIONS)


def _operation_request(size: int) -> str:
    node = {"id": UUID, "shape": "process", "position": {"x": 1, "y": 2}, "size": {"width": 80, "height": 40}}
    message = json.dumps(
        {
            "message_type": "diagram_operation_request",
            "operation_id": UUID,
            "base_vector": 0,
            "operation": {"type": "patch", "cells": [{"id": UUID, "operation": "add", "data": node}]},
        }
    )
    return message + " " * (size - len(message))


def test_deviations_excuse_only_what_they_describe():
    recorder = ContractRecorder("1.8")
    recorder.record_frame("ws-send", _operation_request(60_000))  # within the code's 64 KiB
    recorder.record_frame("ws-send", _operation_request(70_000))  # beyond it
    rejected = {
        "message_type": "operation_rejected",
        "operation_id": UUID,
        "update_vector": 0,
        "message": "Operation validation failed",
        "requires_resync": True,
        "timestamp": "2026-01-01T00:00:00Z",
    }
    recorder.record_frame("ws-receive", json.dumps({**rejected, "reason": "cell_already_exists"}))  # a code string
    recorder.record_frame("ws-receive", json.dumps({**rejected, "reason": "made_up"}))
    assert len(recorder.violations) == 4
    assert [v.message for v in recorder.unexpected()] == ["70000 bytes > 4096", recorder.violations[3].message]
    assert "'made_up' is not one of" in recorder.violations[3].message
    assert recorder.accepted() == {"frame-limit-64-kib-1.8": 1, "rejection-reason-strings": 1}
    assert recorder.deviation_of(replace(recorder.violations[0], generation="0.217")) is None  # pinned to 1.8


def test_a_deviation_can_require_the_marker_of_its_case():
    """0.217's no-session answer lacks `host`; a real session without `host` is still a violation."""
    collaborate = f"/threat_models/{UUID}/diagrams/{UUID}/collaborate"
    no_session = {
        "session_id": None,
        "threat_model_id": UUID,
        "diagram_id": UUID,
        "participants": [],
        "websocket_url": f"ws://127.0.0.1:9/threat_models/{UUID}/diagrams/{UUID}/ws",
    }
    excused = exchange("0.217", "GET", collaborate, answering(200, no_session), headers=BEARER)
    assert excused.violations and excused.unexpected() == []
    hostless = exchange("0.217", "GET", collaborate, answering(200, {**no_session, "session_id": UUID}), headers=BEARER)
    assert {v.message for v in hostless.unexpected()} >= {"'host' is a required property"}


def test_unexpected_properties_is_order_free_and_exact():
    pattern = re.compile(unexpected_properties("a", "b"))
    assert pattern.search("Additional properties are not allowed ('b', 'a' were unexpected)")
    assert not pattern.search("Additional properties are not allowed ('b', 'a', 'c' were unexpected)")
    assert not pattern.search("Additional properties are not allowed ('a' was unexpected)")
