"""Everything that differs between TMI 1.8 (HEAD) and TMI 0.217 (the guide's era), in one place.

The rest of the client asks a `GenerationProfile` instead of testing version strings.
References are to /work/shared/tmi/PROTOCOL.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from portal.tmi.models import GenerationName, ServerInfo


@dataclass(frozen=True)
class GenerationProfile:
    name: GenerationName
    test_idp: str  # 3.1 / 9.2: the built-in test IdP
    wrapped_lists: bool  # 5.1 `{<items>, total, limit, offset}` vs 9.3 plain arrays
    edge_shape: str  # 5.4 "flow" vs 9.3 "edge"
    token_type: str  # 3.5 "bearer" vs 9.2 "Bearer"
    profile_path: str  # 3.8 /me vs 9.2 /users/me
    userinfo_shape: Literal["oidc", "tmi"]  # 3.7 vs 9.2
    sessions_path: str  # 6.4 /me/sessions vs 9.4 /collaboration/sessions
    ws_auth: Literal["ticket", "token"]  # 7.1 ?ticket= vs 9.5 ?token=<jwt>
    no_session_status: int  # GET /collaborate without a session: 6.2 404 vs 9.4 200 with session_id null
    has_config: bool  # 1.2 GET /config exists only at 1.8
    optimistic_locking: bool  # 5.1 If-Match/ETag/version_mismatch only at 1.8
    threat_type_is_list: bool  # 5.3 array vs 9.3 one string
    rfc7009_revoke: bool  # 3.9 revoke any token + POST /me/logout vs 9.2 revoke = blacklist the Bearer token
    collaborate_denied_status: int  # no read access on /collaborate: 6.2 403 vs 9.4 401
    refresh_path: str = "/oauth2/refresh"  # 3.6 / 9.2: JSON `{refresh_token}` in both
    refresh_failure: str = ""  # what a refused refresh token says (for messages and tests)
    client_credentials: bool = False  # 3.5 service accounts (grant + /me/client_credentials); 0.217 has none
    # 5.6 metadata: the real 0.217.8 answers every PUT .../metadata/{key} 400 and a POST of an existing key
    # replaces its value; 1.8.22's PUT changes an existing key only (404 for a new one), its POST is 409.
    metadata_post_upserts: bool = False


TMI_1_8 = GenerationProfile(
    name="1.8",
    test_idp="tmi",
    wrapped_lists=True,
    edge_shape="flow",
    token_type="bearer",
    profile_path="/me",
    userinfo_shape="oidc",
    sessions_path="/me/sessions",
    ws_auth="ticket",
    no_session_status=404,
    has_config=True,
    optimistic_locking=True,
    threat_type_is_list=True,
    rfc7009_revoke=True,
    collaborate_denied_status=403,
    refresh_failure="invalid_grant",
    client_credentials=True,
)
TMI_0_217 = GenerationProfile(
    name="0.217",
    test_idp="test",
    wrapped_lists=False,
    edge_shape="edge",
    token_type="Bearer",
    profile_path="/users/me",
    userinfo_shape="tmi",
    sessions_path="/collaboration/sessions",
    ws_auth="token",
    no_session_status=200,
    has_config=False,
    optimistic_locking=False,
    threat_type_is_list=False,
    rfc7009_revoke=False,
    collaborate_denied_status=401,
    refresh_failure="Failed to refresh token",
    metadata_post_upserts=True,
)
PROFILES: dict[str, GenerationProfile] = {p.name: p for p in (TMI_1_8, TMI_0_217)}


def profile_for(generation: str) -> GenerationProfile:
    try:
        return PROFILES[generation]
    except KeyError:
        raise ValueError(f"unknown TMI generation {generation!r}; expected one of {sorted(PROFILES)}") from None


def server_info(discovery: dict[str, Any]) -> ServerInfo:
    """Work out the generation from `GET /` (PROTOCOL.md 1.1 and 9.1).

    1.8 reports the server version in `api.version` ("1.8.x") and a lowercase status. 0.217 reports the
    spec version "1.0.0" there, an uppercase status, and its own version only in `service.build`
    ("0.217.1-<commit>"). Anything that is not the old "1.0.0" API is treated as the current generation.
    """
    api_version = str(_get(discovery, "api", "version") or "")
    build = str(_get(discovery, "service", "build") or "")
    status_code = str(_get(discovery, "status", "code") or "")
    legacy = api_version == "1.0.0" or (not api_version and status_code.isupper())
    if legacy:
        version = build.split("-", 1)[0].split(" ", 1)[0]
    else:
        version = api_version or build.split("-", 1)[0].split(" ", 1)[0]
    return ServerInfo(
        generation="0.217" if legacy else "1.8",
        version=version,
        api_version=api_version,
        build=build,
        status=status_code.lower(),
        raw=discovery,
    )


def _get(data: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def threat_input(profile: GenerationProfile, body: dict[str, Any]) -> dict[str, Any]:
    """A threat body in the generation's shape: `threat_type` a list (1.8) or one string (0.217)."""
    value = body.get("threat_type")
    if value is None:
        return body
    if profile.threat_type_is_list:
        return {**body, "threat_type": [value] if isinstance(value, str) else list(value)}
    # 0.217 holds one string; several types are joined rather than silently dropped.
    return {**body, "threat_type": value if isinstance(value, str) else ", ".join(value)}


def list_items(body: Any, items_key: str) -> tuple[list[Any], int | None, int | None, int | None]:
    """(items, total, limit, offset) from a list response of either shape.

    1.8 wraps lists, 0.217 sends plain arrays (PROTOCOL.md 5.1, 9.3). The shape is read from the body
    rather than from the profile, so a server between the two still parses; anything else is a TypeError.
    """
    if isinstance(body, list):
        return body, None, None, None
    if isinstance(body, dict) and isinstance(body.get(items_key), list):
        return body[items_key], body.get("total"), body.get("limit"), body.get("offset")
    raise TypeError(f"expected a JSON array or an object with {items_key!r}")
