"""Every request the client builds, and every answer it parses, checked against the generation's OpenAPI
document by the contract package's validating transport (injected through `transport=`)."""

from __future__ import annotations

import pytest

from portal.conformance.contract.recorder import AsyncValidatingTransport, ContractRecorder, ValidatingTransport
from portal.conformance.contract.violations import describe
from portal.tmi import AsyncTMIClient, RefreshFailed, TMIClient
from tests.tmi.helpers import sign_in

NODE = {
    "id": "6f0c1e5a-0000-4000-8000-00000000000a",
    "shape": "process",
    "position": {"x": 1, "y": 2},
    "size": {"width": 100, "height": 50},
    "attrs": {"text": {"text": "API"}},
}


@pytest.fixture
def recorder(generation):
    recorder = ContractRecorder(generation)
    yield recorder
    # Where TMI's code and its documents disagree, tests/contract/deviations.py says so; nothing else may.
    unexpected = recorder.unexpected()
    assert not unexpected, describe(unexpected)


def test_the_client_speaks_the_published_contract(sandbox, generation, recorder):
    transport = ValidatingTransport(recorder)
    with TMIClient(sandbox.base_url, transport=transport) as anonymous:
        anonymous.discovery()
        if generation == "1.8":
            anonymous.config()
        tokens = sign_in(anonymous, "alice")
        with TMIClient(sandbox.base_url, auth=tokens, transport=transport) as c:
            c.auth.userinfo()
            c.auth.me()
            list(c.threat_models.iter(page_size=5))
            tm = c.threat_models.create(name="Contract", description="d")
            acl = [
                a.model_dump(include={"principal_type", "provider", "provider_id", "role"})
                for a in c.threat_models.get(tm.id).authorization
            ]
            c.threat_models.update(tm.id, name="Contract 2", threat_model_framework="STRIDE", authorization=acl)
            c.threat_models.patch(tm.id, [{"op": "add", "path": "/description", "value": "n"}], if_match="*")
            threat = c.threats.create(tm.id, name="t", threat_type=["Spoofing"], severity="high")
            c.threats.update(tm.id, threat.id, name="t", threat_type="Tampering")
            c.threats.patch(tm.id, threat.id, [{"op": "replace", "path": "/name", "value": "u"}])
            c.threats.list(tm.id)
            for resource, body in (
                ("documents", {"name": "n", "uri": "https://docs.example/x"}),
                ("assets", {"name": "a", "type": "data"}),
                ("notes", {"name": "n", "content": "c"}),
                ("repositories", {"uri": "https://git.example/x.git"}),
            ):
                collection = getattr(c, resource)
                item = collection.create(tm.id, body)
                collection.update(tm.id, item.id, body)
                collection.get(tm.id, item.id)
                collection.list(tm.id)
                collection.delete(tm.id, item.id)
            diagram = c.diagrams.create(tm.id, "D")
            if generation == "1.8":
                c.diagrams.update(tm.id, diagram.id, name="D", cells=[NODE])
            else:  # 0.217.8 refuses a PUT with cells (PROTOCOL.md 12b.6); cells go in by JSON Patch
                c.diagrams.patch(tm.id, diagram.id, [{"op": "replace", "path": "/cells", "value": [NODE]}])
            c.diagrams.get(tm.id, diagram.id)
            c.metadata.create(tm.id, "k", "v")
            c.metadata.set(tm.id, "k", "w")
            c.metadata.bulk_create(tm.id, [{"key": "a", "value": "b"}])
            c.metadata.bulk_replace(tm.id, [{"key": "a", "value": "c"}], kind="threats", item_id=threat.id)
            c.metadata.list(tm.id)
            c.metadata.delete(tm.id, "k")
            assert c.collaboration.get(tm.id, diagram.id) is None
            session = c.collaboration.start_or_join(tm.id, diagram.id)
            c.collaboration.start_or_join(tm.id, diagram.id)
            c.collaboration.sessions()
            c.collaboration.websocket_url(session)
            c.collaboration.leave(tm.id, diagram.id)
            c.threat_models.delete(tm.id)
        fresh = anonymous.auth.refresh(tokens.refresh_token)
        with pytest.raises(RefreshFailed):
            anonymous.auth.refresh(tokens.refresh_token)
        anonymous.auth.logout(fresh)
    assert sum(recorder.covered.values()) > 40


async def test_the_async_client_speaks_it_too(sandbox, recorder, alice_tokens):
    async with AsyncTMIClient(
        sandbox.base_url, auth=alice_tokens, transport=AsyncValidatingTransport(recorder)
    ) as client:
        tm = await client.threat_models.create(name="Async contract")
        await client.threats.create(tm.id, name="t", threat_type=["Spoofing"])
        assert [t.name async for t in client.threats.aiter(tm.id)] == ["t"]
        await client.threat_models.delete(tm.id)
    assert recorder.covered
