import pytest

from portal.tmi.generations import TMI_0_217, TMI_1_8, list_items, profile_for, server_info, threat_input

DISCOVERY_18 = {
    "status": {"code": "ok", "time": "2026-08-20T10:00:00Z"},
    "service": {"name": "TMI", "build": "1.8.22-abc123 (production)"},
    "api": {"version": "1.8.22", "specification": "https://example/tmi-openapi.json"},
}
DISCOVERY_0217 = {
    "status": {"code": "OK", "time": "2025-11-20T10:00:00Z"},
    "service": {"name": "TMI", "build": "0.217.1-b59d69d6"},
    "api": {"version": "1.0.0", "specification": "https://example/tmi-openapi.json"},
    "operator": {"name": "", "contact": ""},
}


def test_discovery_of_1_8_uses_api_version_and_lowercase_status():
    info = server_info(DISCOVERY_18)
    assert (info.generation, info.version, info.build, info.status) == (
        "1.8",
        "1.8.22",
        "1.8.22-abc123 (production)",
        "ok",
    )


def test_discovery_of_0_217_reads_the_version_from_the_build():
    info = server_info(DISCOVERY_0217)
    assert (info.generation, info.version, info.api_version, info.status) == ("0.217", "0.217.1", "1.0.0", "ok")


@pytest.mark.parametrize("build", ["1.8.22", "1.8.22-development", "1.8.22-rc.0+abc"])
def test_every_1_8_build_form_is_1_8(build):
    info = server_info({**DISCOVERY_18, "service": {"name": "TMI", "build": build}, "status": {"code": "degraded"}})
    assert info.generation == "1.8" and info.status == "degraded"


def test_profiles_hold_every_generation_difference():
    assert (TMI_1_8.test_idp, TMI_0_217.test_idp) == ("tmi", "test")
    assert (TMI_1_8.edge_shape, TMI_0_217.edge_shape) == ("flow", "edge")
    assert (TMI_1_8.profile_path, TMI_0_217.profile_path) == ("/me", "/users/me")
    assert (TMI_1_8.sessions_path, TMI_0_217.sessions_path) == ("/me/sessions", "/collaboration/sessions")
    assert (TMI_1_8.ws_auth, TMI_0_217.ws_auth) == ("ticket", "token")
    assert (TMI_1_8.no_session_status, TMI_0_217.no_session_status) == (404, 200)
    assert (TMI_1_8.token_type, TMI_0_217.token_type) == ("bearer", "Bearer")
    assert profile_for("0.217") is TMI_0_217
    with pytest.raises(ValueError):
        profile_for("2.0")


def test_threat_type_goes_out_as_a_list_at_1_8_and_a_string_at_0_217():
    assert threat_input(TMI_1_8, {"threat_type": "Spoofing"})["threat_type"] == ["Spoofing"]
    assert threat_input(TMI_1_8, {"threat_type": ("A", "B")})["threat_type"] == ["A", "B"]
    assert threat_input(TMI_0_217, {"threat_type": ["Spoofing"]})["threat_type"] == "Spoofing"
    assert threat_input(TMI_0_217, {"threat_type": ["A", "B"]})["threat_type"] == "A, B"
    assert threat_input(TMI_0_217, {"name": "x"}) == {"name": "x"}


def test_list_items_reads_both_shapes_and_refuses_others():
    assert list_items([{"id": 1}], "threats") == ([{"id": 1}], None, None, None)
    assert list_items({"threats": [], "total": 5, "limit": 2, "offset": 4}, "threats") == ([], 5, 2, 4)
    with pytest.raises(TypeError):
        list_items({"items": []}, "threats")
    with pytest.raises(TypeError):
        list_items("nope", "threats")
