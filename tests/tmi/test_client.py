"""Request building, response parsing, retries and discovery, against respx (faults the sandbox cannot
produce, and exact wire checks). The same flows run on the real sandbox in test_sandbox_*.py."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from portal.tmi import (
    APIConnectionError,
    APITimeoutError,
    AsyncTMIClient,
    CollaborationSession,
    Conflict,
    Forbidden,
    InternalServerError,
    MalformedResponse,
    NotFound,
    NotSupported,
    Provider,
    RateLimited,
    RefreshFailed,
    ServiceUnavailable,
    TMIClient,
    TokenPair,
    Unauthorized,
)
from tests.tmi.helpers import AsyncSleeps, Sleeps
from tests.tmi.test_generations import DISCOVERY_0217, DISCOVERY_18

BASE = "http://tmi.test"
TOKENS = TokenPair(access_token="access-1", refresh_token="refresh-1", expires_in=3600)
TM = {"id": "tm1", "name": "Shop"}


@pytest.fixture
def router():
    return respx.Router(base_url=BASE, assert_all_called=False)


@pytest.fixture
def make(router):
    """A sync client on the respx router; the generation is given, so GET / is not needed."""
    clients = []

    def make(generation="1.8", **kwargs):
        kwargs.setdefault("sleep", Sleeps())
        client = TMIClient(
            BASE,
            transport=httpx.MockTransport(router.handler),
            generation=generation,
            auth=kwargs.pop("auth", TOKENS),
            **kwargs,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def sent(router, index=-1) -> httpx.Request:
    return router.calls[index].request


# -- request building -------------------------------------------------------------------------------------
def test_bearer_header_json_body_and_result(router, make):
    router.post("/threat_models").respond(201, json={**TM, "owner": "alice@test.tmi"})
    tm = make().threat_models.create(name="Shop", description="d")
    request = sent(router)
    assert request.headers["authorization"] == "Bearer access-1"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {"name": "Shop", "description": "d"}
    assert tm.id == "tm1" and tm.owner.email == "alice@test.tmi"


def test_patch_sends_a_json_patch_array_with_its_media_type(router, make):
    router.patch("/threat_models/tm1").respond(200, json=TM, headers={"ETag": '"8"'})
    ops = [{"op": "replace", "path": "/name", "value": "Shop"}]
    tm = make().threat_models.patch("tm1", ops, if_match=7)
    request = sent(router)
    assert request.headers["content-type"] == "application/json-patch+json"
    assert json.loads(request.content) == ops
    assert request.headers["if-match"] == "7"
    assert tm.version == 8  # from the ETag of the conditional write


def test_if_match_is_not_sent_to_0_217(router, make):
    router.put("/threat_models/tm1").respond(200, json=TM)
    make("0.217").threat_models.update("tm1", {"name": "Shop"}, if_match=3)
    assert "if-match" not in sent(router).headers


def test_threat_type_and_diagram_bodies_follow_the_generation(router, make):
    router.post("/threat_models/tm1/threats").respond(201, json={"id": "t", "name": "x", "threat_type": "Spoofing"})
    router.post("/threat_models/tm1/diagrams").respond(201, json={"id": "d", "name": "D", "type": "DFD-1.0.0"})
    router.put("/threat_models/tm1/diagrams/d").respond(200, json={"id": "d", "name": "D", "cells": []})
    legacy = make("0.217")
    threat = legacy.threats.create("tm1", name="x", threat_type=["Spoofing"])
    assert json.loads(sent(router).content)["threat_type"] == "Spoofing" and threat.threat_type == ["Spoofing"]
    legacy.diagrams.create("tm1", "D")
    assert json.loads(sent(router).content) == {"name": "D", "type": "DFD-1.0.0"}
    edge = {"id": "e", "shape": "flow", "source": {"cell": "a"}, "target": {"cell": "b"}}
    legacy.diagrams.update("tm1", "d", name="D", cells=[edge])
    assert json.loads(sent(router).content) == {"type": "DFD-1.0.0", "name": "D", "cells": [{**edge, "shape": "edge"}]}


def test_a_document_accepted_for_extraction_is_still_a_document(router, make):
    router.post("/threat_models/tm1/documents").respond(
        202,
        json={
            "document": {"id": "doc1", "name": "Spec", "uri": "https://x", "access_status": "pending_access"},
            "job_id": "job-1",
        },
    )
    document = make().documents.create("tm1", name="Spec", uri="https://x")
    assert document.id == "doc1" and document.model_extra["access_status"] == "pending_access"


def test_list_filters_become_query_parameters(router, make):
    router.get("/threat_models").respond(200, json={"threat_models": [], "total": 0, "limit": 5, "offset": 10})
    make().threat_models.list(limit=5, offset=10, name="shop", status=["in_progress", "done"], owner=None)
    params = sent(router).url.params
    assert (params["name"], params["status"], params["limit"], params["offset"]) == (
        "shop",
        "in_progress,done",
        "5",
        "10",
    )
    assert "owner" not in params


def test_public_endpoints_carry_no_credentials(router, make):
    router.get("/oauth2/providers").respond(
        200, json={"providers": [{"id": "tmi", "auth_url": f"{BASE}/oauth2/authorize?idp=tmi"}]}
    )
    providers = make().auth.providers()
    assert providers[0].id == "tmi" and "authorization" not in sent(router).headers
    assert sent(router).headers["accept"] == "application/json"  # GET / would answer HTML to text/html


def test_authorize_url_joins_with_ampersand_and_absolutises(router, make):
    url = make().auth.authorize_url(
        Provider(id="tmi", auth_url="/oauth2/authorize?idp=tmi"),
        state="s1",
        code_challenge="c" * 43,
        client_callback="http://127.0.0.1:8000/cb",
    )
    parsed = httpx.URL(url)
    assert url.count("?") == 1 and str(parsed).startswith(f"{BASE}/oauth2/authorize?idp=tmi&")
    assert parsed.params["state"] == "s1" and parsed.params["idp"] == "tmi"
    assert parsed.params["scope"] == "openid profile email" and parsed.params["code_challenge_method"] == "S256"
    assert "login_hint" not in parsed.params
    assert not router.calls  # building the URL needs no network


# -- responses that are not what they should be --------------------------------------------------------------
def test_non_json_body_is_malformed(router, make):
    router.get("/threat_models/tm1").respond(200, text="<html>proxy</html>")
    with pytest.raises(MalformedResponse, match="not JSON") as caught:
        make().threat_models.get("tm1")
    assert caught.value.status_code == 200 and "proxy" in caught.value.body


@pytest.mark.parametrize("body", [[TM], {"name": "no id"}, {"id": "tm1", "threats": "nope"}, None])
def test_json_of_the_wrong_shape_is_malformed(router, make, body):
    router.get("/threat_models/tm1").respond(
        200, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with pytest.raises(MalformedResponse, match="unexpected response"):
        make().threat_models.get("tm1")


def test_list_of_neither_shape_is_malformed(router, make):
    router.get("/threat_models").respond(200, json={"items": []})
    with pytest.raises(MalformedResponse):
        make().threat_models.list()


# -- retries --------------------------------------------------------------------------------------------
def test_get_retries_503_honouring_retry_after(router, make):
    route = router.get("/threat_models/tm1")
    route.side_effect = [
        httpx.Response(503, json={"error": "service_unavailable"}, headers={"Retry-After": "2"}),
        httpx.Response(200, json=TM),
    ]
    sleeps = Sleeps()
    assert make(sleep=sleeps).threat_models.get("tm1").id == "tm1"
    assert route.call_count == 2 and sleeps == [2.0]


def test_get_gives_up_after_max_retries(router, make):
    route = router.get("/threat_models/tm1").respond(500, json={"error": "server_error"})
    sleeps = Sleeps()
    with pytest.raises(InternalServerError):
        make(sleep=sleeps, max_retries=3).threat_models.get("tm1")
    assert route.call_count == 4 and len(sleeps) == 3


def test_post_retries_429_but_not_500(router, make):
    route = router.post("/threat_models")
    route.side_effect = [
        httpx.Response(429, json={"error": "rate_limit_exceeded"}, headers={"Retry-After": "1"}),
        httpx.Response(500, json={"error": "server_error"}),
    ]
    sleeps = Sleeps()
    with pytest.raises(InternalServerError):
        make(sleep=sleeps).threat_models.create(name="x")
    assert route.call_count == 2 and sleeps == [1.0]


def test_rate_limit_error_after_retries_carries_retry_after(router, make):
    router.get("/threat_models").respond(429, json={"error": "rate_limit_exceeded"}, headers={"Retry-After": "5"})
    with pytest.raises(RateLimited) as caught:
        make(max_retries=0).threat_models.list()
    assert caught.value.retry_after == 5.0


def test_post_retries_a_refused_connection_but_not_a_read_timeout(router, make):
    route = router.post("/threat_models")
    route.side_effect = [httpx.ConnectError("refused"), httpx.Response(201, json=TM)]
    assert make().threat_models.create(name="x").id == "tm1"
    assert route.call_count == 2
    slow = router.post("/threat_models/tm1/threats")
    slow.side_effect = httpx.ReadTimeout("slow")
    with pytest.raises(APITimeoutError):
        make().threats.create("tm1", name="x", threat_type=["S"])
    assert slow.call_count == 1


def test_get_retries_timeouts_then_raises_a_timeout_error(router, make):
    route = router.get("/threat_models/tm1")
    route.side_effect = httpx.ReadTimeout("slow")
    with pytest.raises(APITimeoutError):
        make(max_retries=2).threat_models.get("tm1")
    assert route.call_count == 3


def test_connection_errors_become_api_connection_errors(router, make):
    router.delete("/threat_models/tm1").side_effect = httpx.RemoteProtocolError("reset")
    with pytest.raises(APIConnectionError) as caught:
        make(max_retries=0).threat_models.delete("tm1")
    assert not isinstance(caught.value, APITimeoutError) and caught.value.method == "DELETE"


def test_refresh_is_never_retried_after_it_was_sent(router, make):
    route = router.post("/oauth2/refresh").respond(
        503, json={"error": "service_unavailable"}, headers={"Retry-After": "1"}
    )
    with pytest.raises(ServiceUnavailable):
        make().auth.refresh("refresh-1")
    assert route.call_count == 1
    route.side_effect = [httpx.ConnectError("refused"), httpx.Response(200, json=TOKENS.model_dump())]
    assert make().auth.refresh("refresh-1").access_token == "access-1"


@pytest.mark.parametrize(
    "generation, body",
    [
        ("1.8", {"error": "invalid_grant", "error_description": "The refresh token is invalid or expired."}),
        ("0.217", {"error": "Failed to refresh token: invalid"}),
    ],
)
def test_refused_refresh_raises_refresh_failed(router, make, generation, body):
    router.post("/oauth2/refresh").respond(400, json=body)
    with pytest.raises(RefreshFailed) as caught:
        make(generation).auth.refresh("used")
    assert caught.value.status_code == 400 and caught.value.error == body["error"]


# -- discovery and pagination ---------------------------------------------------------------------------
def test_generation_is_discovered_once_lazily(router):
    root = router.get("/").respond(200, json=DISCOVERY_0217)
    router.get("/users/me").respond(200, json={"provider_id": "alice", "email": "alice@test.tmi"})
    with TMIClient(BASE, auth=TOKENS, transport=httpx.MockTransport(router.handler)) as client:
        assert client.server is None
        client.auth.me()
        client.auth.me()
        assert client.server.generation == "0.217" and root.call_count == 1
        assert "authorization" not in router.calls[0].request.headers


def test_given_generation_skips_discovery_but_discovery_still_reports(router):
    root = router.get("/").respond(200, json=DISCOVERY_18)
    router.get("/me").respond(200, json={"provider_id": "alice"})
    with TMIClient(BASE, generation="1.8", transport=httpx.MockTransport(router.handler)) as client:
        client.auth.me()
        assert root.call_count == 0
        assert client.discovery().version == "1.8.22"


def test_iter_walks_wrapped_pages_by_total(router, make):
    items = [{"id": str(i), "name": f"tm{i}"} for i in range(250)]

    def page(request):
        offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        return httpx.Response(
            200, json={"threat_models": items[offset : offset + limit], "total": 250, "limit": limit, "offset": offset}
        )

    route = router.get("/threat_models").mock(side_effect=page)
    assert [tm.id for tm in make().threat_models.iter()] == [str(i) for i in range(250)]
    assert route.call_count == 3


def test_iter_walks_plain_arrays_until_a_short_page(router, make):
    items = [{"id": str(i), "name": "t", "threat_type": "S"} for i in range(200)]

    def page(request):
        offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        return httpx.Response(200, json=items[offset : offset + limit])

    route = router.get("/threat_models/tm1/threats").mock(side_effect=page)
    assert len(list(make("0.217").threats.iter("tm1"))) == 200
    assert route.call_count == 3  # 100, 100, then an empty page ends it


# -- collaboration --------------------------------------------------------------------------------------
def test_no_session_is_none_in_both_generations(router, make):
    path = "/threat_models/tm1/diagrams/d1/collaborate"
    router.get(path).respond(
        404, json={"error": "not_found", "error_description": "No active collaboration session for this diagram"}
    )
    assert make("1.8").collaboration.get("tm1", "d1") is None
    router.get(path).respond(200, json={"session_id": None, "participants": [], "websocket_url": "ws://x/ws"})
    assert make("0.217").collaboration.get("tm1", "d1") is None


def test_a_missing_diagram_is_still_not_found(router, make):
    router.get("/threat_models/tm1/diagrams/d1/collaborate").respond(
        404, json={"error": "not_found", "error_description": "Diagram not found in this threat model"}
    )
    with pytest.raises(NotFound):
        make().collaboration.get("tm1", "d1")


def test_a_0_217_permission_401_on_collaborate_is_forbidden(router, make):
    denied = "You don't have sufficient permissions to access this threat model"
    router.post("/threat_models/tm1/diagrams/d1/collaborate").respond(
        401, json={"error": "unauthorized", "error_description": denied}
    )
    with pytest.raises(Forbidden) as caught:
        make("0.217", auth="static-token").collaboration.start_or_join("tm1", "d1")
    assert caught.value.status_code == 401 and isinstance(caught.value.__cause__, Unauthorized)


def test_start_or_join_meets_a_409_by_getting_the_session(router, make):
    path = "/threat_models/tm1/diagrams/d1/collaborate"
    router.post(path).respond(409, json={"error": "conflict"})
    router.get(path).respond(200, json={"session_id": "s1", "host": "alice@test.tmi"})
    session = make().collaboration.start_or_join("tm1", "d1")
    assert session.session_id == "s1" and not session.created
    assert [c.request.method for c in router.calls] == ["POST", "GET"]  # never the guide's PUT
    router.get(path).respond(404, json={"error": "not_found", "error_description": "No active collaboration session"})
    with pytest.raises(Conflict):
        make().collaboration.start_or_join("tm1", "d1")


def test_websocket_url_is_absolute_with_a_ticket_at_1_8(router, make):
    router.get("/ws/ticket").respond(200, json={"ticket": "T1"})
    session = CollaborationSession(session_id="s1", websocket_url="/threat_models/t/diagrams/d/ws?session_id=s1")
    url = make("1.8").collaboration.websocket_url(session)
    assert url == "ws://tmi.test/threat_models/t/diagrams/d/ws?session_id=s1&ticket=T1"
    assert sent(router).url.params["session_id"] == "s1"
    secure = CollaborationSession(session_id="s1", websocket_url="https://tmi.example/threat_models/t/diagrams/d/ws")
    assert make("1.8").collaboration.websocket_url(secure).startswith("wss://tmi.example/")


def test_websocket_url_carries_the_jwt_at_0_217(router, make):
    session = CollaborationSession(session_id="s1", websocket_url="ws://tmi.test/threat_models/t/diagrams/d/ws")
    client = make("0.217")
    assert client.collaboration.websocket_url(session) == (
        "ws://tmi.test/threat_models/t/diagrams/d/ws?session_id=s1&token=access-1"
    )
    with pytest.raises(NotSupported):
        client.collaboration.ticket("s1")
    assert not router.calls


# -- the async twin ------------------------------------------------------------------------------------
async def test_async_client_runs_the_same_flows(router):
    router.get("/").respond(200, json=DISCOVERY_18)
    router.get("/me").respond(200, json={"provider_id": "alice"})
    route = router.get("/threat_models/tm1")
    route.side_effect = [httpx.Response(502, text="bad gateway"), httpx.Response(200, json=TM)]
    router.get("/threat_models").mock(
        side_effect=lambda request: httpx.Response(
            200,
            json={
                "threat_models": [TM] if request.url.params["offset"] == "0" else [],
                "total": 1,
                "limit": 100,
                "offset": 0,
            },
        )
    )
    sleeps = AsyncSleeps()
    async with AsyncTMIClient(
        BASE, auth=TOKENS, transport=httpx.MockTransport(router.async_handler), sleep=sleeps
    ) as client:
        assert (await client.threat_models.get("tm1")).name == "Shop"
        assert [tm.id async for tm in client.threat_models.aiter()] == ["tm1"]
        assert client.server is None and len(sleeps) == 1  # nothing needed the generation yet
        assert (await client.auth.me()).provider_id == "alice"
        assert client.server.generation == "1.8"


def test_resources_are_made_once_on_first_use(router, make):
    client = make()
    assert "threats" not in vars(client)  # a live diagram's client uses two of the ten
    assert client.threats is client.threats and "threats" in vars(client)
    assert client.threats._client is client
