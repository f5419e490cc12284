"""TMI 1.8's SSVC and CVSS on threats and the security reviewer on threat models, as PROTOCOL.md 5.2/5.3 say the
real 1.8 takes and answers them (the portal's "what to do next" reads them); 0.217 has none of them (9.3)."""

from __future__ import annotations

from tests.sandbox.rest_world import Api, error, threat_body, tm_id

BASE = f"/threat_models/{tm_id()}"
SSVC = {"vector": "SSVCv2/E:A/U:S/T:T/P:S/2026-04-08/", "decision": "Out-of-Cycle", "methodology": "Supplier"}
CVSS = [{"vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "score": 9.8}]


def test_ssvc_and_cvss_are_taken_and_answered_at_18_and_refused_at_0217(sandbox):
    bob = Api(sandbox, "bob")  # a writer of the model
    created = bob.post(f"{BASE}/threats", threat_body(bob.legacy, ssvc=SSVC, cvss=CVSS))
    if bob.legacy:  # 0.217's strict Threat schema has no such fields (PROTOCOL.md 9.3): refused
        refusal = error(created, 400, "invalid_input")
        assert "Additional properties are not allowed" in refusal and "ssvc" in refusal and "cvss" in refusal
        return
    assert created.status_code == 201, created.text
    read = bob.get(f"{BASE}/threats/{created.json()['id']}").json()
    assert created.json()["ssvc"] == read["ssvc"] == SSVC and read["cvss"] == CVSS
    listed = bob.get(f"{BASE}/threats", params={"limit": 100}).json()["threats"]
    assert next(t for t in listed if t["id"] == read["id"])["ssvc"]["decision"] == "Out-of-Cycle"
    # The decision is one of the four words; the three fields are all required (the real 1.8.22's threat
    # validator answers invalid_id, test_rest_validation.py).
    error(bob.post(f"{BASE}/threats", threat_body(False, ssvc={**SSVC, "decision": "Soon"})), 400, "invalid_id")
    partial = {k: v for k, v in SSVC.items() if k != "methodology"}
    error(bob.post(f"{BASE}/threats", threat_body(False, ssvc=partial)), 400, "invalid_id")
    error(
        bob.post(f"{BASE}/threats", threat_body(False, cvss=[{"vector": "CVSS:3.1/short", "score": 5}])),
        400,
        "invalid_id",
    )
    patched = bob.patch(
        f"{BASE}/threats/{read['id']}", [{"op": "replace", "path": "/ssvc/decision", "value": "Immediate"}]
    )
    assert patched.status_code == 200, patched.text
    assert bob.get(f"{BASE}/threats/{read['id']}").json()["ssvc"]["decision"] == "Immediate"


def test_the_security_reviewer_is_answered_in_the_list_and_the_model_at_18(sandbox):
    alice = Api(sandbox, "alice")
    path = f"/threat_models/{tm_id('Partner Webhooks Service')}"
    if alice.legacy:
        assert "security_reviewer" not in alice.get(path).json()
        return
    seeded = alice.get(path).json()["security_reviewer"]
    assert seeded["email"] == "carol@tmi.local"  # the seed's reviewer
    assert alice.patch(path, [{"op": "remove", "path": "/security_reviewer"}]).status_code == 200  # the owner clears it
    assert "security_reviewer" not in alice.get(path).json()
    listed = alice.get("/threat_models", params={"limit": 100}).json()["threat_models"]
    assert "security_reviewer" not in next(m for m in listed if m["id"] == tm_id("Partner Webhooks Service"))
    without = alice.get("/threat_models", params={"limit": 100, "security_reviewer": "carol"}).json()["threat_models"]
    assert without and all(m["security_reviewer"]["email"] == "carol@tmi.local" for m in without)
