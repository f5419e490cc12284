"""Both generations' sample payloads (PROTOCOL.md 3, 5, 6, 9) normalise to one shape."""

from portal.tmi.models import (
    Asset,
    CollaborationSession,
    Diagram,
    Note,
    Profile,
    Repository,
    Threat,
    ThreatModel,
    TMListItem,
    TokenPair,
    User,
    UserInfo,
)

USER_18 = {
    "principal_type": "user",
    "provider": "tmi",
    "provider_id": "alice",
    "display_name": "Alice (TMI User)",
    "email": "alice@tmi.local",
}


def test_list_item_of_1_8_keeps_users_and_tolerates_new_fields():
    item = TMListItem.model_validate(
        {
            "id": "t1",
            "name": "Shop",
            "owner": USER_18,
            "created_by": USER_18,
            "status": "not_started",
            "threat_count": 3,
            "alias": 12,
            "deleted_at": None,
            "some_field_from_tmi_2": {"x": 1},
        }
    )
    assert item.owner == User(**USER_18)
    assert item.threat_count == 3 and item.alias == 12
    assert item.model_extra == {"some_field_from_tmi_2": {"x": 1}}


def test_list_item_of_0_217_wraps_string_principals():
    item = TMListItem.model_validate(
        {
            "id": "t1",
            "name": "Shop",
            "owner": "alice@test.tmi",
            "created_by": "Alice (Test User)",
            "threat_model_framework": "STRIDE",
        }
    )
    assert item.owner.email == "alice@test.tmi" and item.owner.display_name == "alice@test.tmi"
    assert item.created_by.display_name == "Alice (Test User)" and item.created_by.email == ""


def test_threat_type_is_always_a_list():
    assert Threat.model_validate({"id": "1", "name": "x", "threat_type": ["Spoofing", "Tampering"]}).threat_type == [
        "Spoofing",
        "Tampering",
    ]
    assert Threat.model_validate({"id": "1", "name": "x", "threat_type": "Spoofing"}).threat_type == ["Spoofing"]
    assert Threat.model_validate({"id": "1", "name": "x", "threat_type": None}).threat_type == []


def test_full_threat_model_with_children_and_nulls():
    tm = ThreatModel.model_validate(
        {
            "id": "t1",
            "name": "Shop",
            "owner": USER_18,
            "metadata": None,
            "threats": None,
            "authorization": [
                {**USER_18, "role": "owner"},
                {"principal_type": "group", "provider": "tmi", "provider_id": "security-reviewers", "role": "owner"},
            ],
            "diagrams": [{"id": "d1", "name": "DFD", "type": "DFD-1.0.0", "cells": None}],
            "documents": [{"id": "doc", "name": "Spec", "uri": "https://x"}],
            "notes": [{"id": "n", "name": "N"}],
        }
    )
    assert tm.threats == [] and tm.metadata == []
    assert [a.role for a in tm.authorization] == ["owner", "owner"]
    assert tm.authorization[1].principal_type == "group"
    assert tm.diagrams[0].cells == [] and tm.notes[0].content is None


def test_session_of_0_217_has_string_host_and_null_session_id():
    session = CollaborationSession.model_validate(
        {
            "session_id": None,
            "threat_model_id": "t",
            "diagram_id": "d",
            "participants": [],
            "websocket_url": "ws://host/threat_models/t/diagrams/d/ws",
        }
    )
    assert session.session_id is None and session.host is None
    live = CollaborationSession.model_validate(
        {
            "session_id": "s",
            "host": "alice@test.tmi",
            "presenter": "alice@test.tmi",
            "participants": [
                {
                    "user": {"user_id": "bob", "name": "Bob", "email": "bob@test.tmi"},
                    "permissions": "reader",
                    "last_activity": "2025-11-20T10:00:00Z",
                }
            ],
        }
    )
    assert live.host.email == "alice@test.tmi"
    assert live.participants[0].user.provider_id == "bob" and live.participants[0].user.display_name == "Bob"


def test_session_of_1_8_has_user_objects():
    session = CollaborationSession.model_validate(
        {"session_id": "s", "host": USER_18, "participants": [{"user": USER_18, "permissions": "writer"}]}
    )
    assert session.host.provider_id == "alice" and session.presenter is None
    assert "created" not in session.model_dump()


def test_token_pair_accepts_a_string_expires_in_and_computes_expiry():
    pair = TokenPair.model_validate(
        {"access_token": "a", "refresh_token": "r", "expires_in": "3600", "token_type": "Bearer"}
    )
    assert pair.expires_in == 3600
    assert pair.expires_at == pair.issued_at + 3600
    assert pair.expires_within(60, now=pair.issued_at + 3541)
    assert not pair.expires_within(60, now=pair.issued_at + 3500)
    stored = TokenPair.model_validate(pair.model_dump())
    assert stored.expires_at == pair.expires_at


def test_userinfo_reads_oidc_and_tmi_shapes_alike():
    oidc = UserInfo.model_validate(
        {"sub": "alice", "email": "alice@tmi.local", "name": "Alice (TMI User)", "idp": "tmi", "groups": ["g1"]}
    )
    legacy = UserInfo.model_validate(
        {
            "principal_type": "user",
            "provider": "test",
            "provider_id": "alice",
            "display_name": "Alice (Test User)",
            "email": "alice@test.tmi",
            "is_admin": False,
        }
    )
    assert (oidc.provider, oidc.provider_id, oidc.display_name, oidc.groups) == (
        "tmi",
        "alice",
        "Alice (TMI User)",
        ["g1"],
    )
    assert (legacy.provider, legacy.provider_id, legacy.is_admin) == ("test", "alice", False)


def test_profile_group_objects_become_names():
    me = Profile.model_validate(
        {
            **USER_18,
            "is_admin": False,
            "is_security_reviewer": True,
            "groups": [{"internal_uuid": "u", "group_name": "security-reviewers"}],
        }
    )
    assert me.groups == ["security-reviewers"] and me.is_security_reviewer is True


def test_diagram_parses_cells_of_both_generations():
    diagram = Diagram.model_validate(
        {
            "id": "d",
            "name": "D",
            "update_vector": 3,
            "cells": [
                {"id": "n1", "shape": "process", "x": 10, "y": 20, "width": 120, "height": 60, "label": "Flat"},
                {"id": "e1", "shape": "edge", "source": {"cell": "n1"}, "target": {"cell": "n2"}, "zIndex": 1},
            ],
        }
    )
    node, edge = diagram.cells
    assert (node.kind, node.x, node.label) == ("node", 10, "Flat")
    assert (edge.kind, edge.source_id, edge.target_id) == ("edge", "n1", "n2")
    assert edge.raw["zIndex"] == 1


def test_the_real_servers_answers_of_2026_12_04_parse():
    """Answers recorded from the real 1.8.22 and 0.217.8 (trimmed): 1.8's PUT with `"authorization": null` and
    nanosecond write timestamps (reads have 2-6 digits), 0.217's nulls, `authorization: []`, the login sub as
    owner, and children without timestamps."""
    put_18 = ThreatModel.model_validate(
        {
            "authorization": None,
            "created_at": "2026-12-04T02:06:21.014889Z",
            "created_by": USER_18,
            "diagrams": [],
            "id": "ac5fbd57-43c1-4982-816e-8272c0538fc9",
            "is_confidential": False,
            "modified_at": "2026-12-04T02:06:21.212076454Z",
            "name": "Probe minimal 2",
            "owner": USER_18,
            "threat_model_framework": "",
            "threats": [{"id": "t", "name": "T", "created_at": "2026-12-04T02:06:21.47Z", "threat_type": []}],
        }
    )
    assert put_18.authorization == [] and put_18.modified_at.microsecond == 212076
    assert put_18.threats[0].created_at.microsecond == 470000 and put_18.threats[0].threat_type == []
    owner_0217 = {**USER_18, "provider": "test", "provider_id": "al-5aff67", "email": "al-5aff67@test.tmi"}
    get_0217 = ThreatModel.model_validate(
        {
            "authorization": [],
            "created_at": "2026-12-04T02:09:11.281517Z",
            "created_by": owner_0217,
            "diagrams": [{"id": "d", "name": "D", "description": None, "metadata": None, "cells": [], "image": {}}],
            "id": "758ccc1f-d73d-4a9c-be05-710c42200d73",
            "metadata": None,
            "modified_at": "2026-12-04T02:09:11.281517Z",
            "name": "Probe full",
            "owner": owner_0217,
            "status": None,
            "status_updated": None,
            "threat_model_framework": "STRIDE",
            "threats": [
                {
                    "asset_id": None,
                    "cell_id": None,
                    "diagram_id": None,
                    "id": "01a23ed0-10bc-7df6-845e-394b2a8a65c3",
                    "metadata": None,
                    "mitigated": False,
                    "name": "T1",
                    "severity": "High",
                    "threat_type": "Spoofing",
                }
            ],
        }
    )
    assert get_0217.authorization == [] and get_0217.metadata == [] and get_0217.status is None
    assert get_0217.owner.provider_id == "al-5aff67" and get_0217.threats[0].threat_type == ["Spoofing"]
    assert get_0217.diagrams[0].metadata == [] and get_0217.diagrams[0].description is None
    asset = Asset.model_validate(
        {
            "classification": None,
            "criticality": None,
            "description": None,
            "id": "513e710e-8fa5-4e58-a23f-7eb821e7a568",
            "metadata": None,
            "name": "A1",
            "sensitivity": None,
            "type": "software",
        }
    )
    assert asset.created_at is None and asset.classification is None and asset.metadata == []
    repository = Repository.model_validate({"id": "r", "name": "R1", "uri": "https://x/y", "metadata": None})
    note = Note.model_validate({"id": "n", "name": "N1", "content": "# hi", "description": None, "metadata": None})
    assert repository.modified_at is None and note.created_at is None and note.content == "# hi"
