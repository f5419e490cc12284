"""Authorization lists as clients send them, turned into stored entries (PROTOCOL.md 4 and 9.3)."""

from __future__ import annotations

from typing import Any

from portal.sandbox.rest.pipeline import Call, Problem, forbidden, invalid_input
from portal.sandbox.rest.shapes import creator_entry
from portal.sandbox.state import ROLE_RANK, SandboxState, SandboxUser

UNKNOWN_USER_ON_WRITE = (
    "The request references an entity that does not exist. "
    "Users must log in at least once before they can be granted access."
)
UNKNOWN_USER_ON_PATCH = (
    "One or more users in the authorization list do not exist. "
    "Users must log in at least once before they can be granted access."
)
OWNER_ONLY = "Only the owner can change ownership or authorization"
BAD_PROVIDER = (
    "Authorization entry at index {index}: 'provider' must be a valid identity provider name "
    '(e.g., "tmi", "google", "github")'
)


def resolve(
    state: SandboxState, entries: list[dict[str, Any]] | None, *, on_patch: bool = False
) -> list[dict[str, Any]]:
    """Stored entries for a requested list. 1.8 resolves users to known accounts and refuses
    duplicates; 0.217 keeps what was sent (its matching is loose)."""
    entries = entries or []
    if state.config.is_legacy:
        return [dict(e) for e in entries]
    stored: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str]] = set()
    for index, entry in enumerate(entries):
        # The real 1.8.22 wants the IdP's name on every entry; the legacy wildcard "*" (PROTOCOL.md 4's
        # `everyone` of any provider) is refused: the everyone group is {"provider": "tmi", ...} there.
        if isinstance(entry, dict) and entry.get("provider") in ("", "*"):
            raise Problem(400, "validation_failed", BAD_PROVIDER.format(index=index))
        if not isinstance(entry, dict) or entry.get("role") not in ROLE_RANK:
            raise Problem(400, "validation_failed", "Each authorization entry needs a principal and a valid role")
        kind = entry.get("principal_type", "user")
        if kind == "user":
            user = _user_for(state, entry, on_patch=on_patch)
            item = {"principal_type": "user", "provider": user.provider, "provider_id": user.provider_id}
        else:
            if not entry.get("provider_id") or not entry.get("provider"):
                raise Problem(400, "validation_failed", "Group authorization entries need provider and provider_id")
            item = {"principal_type": "group", "provider": entry["provider"], "provider_id": entry["provider_id"]}
        subject = (item["principal_type"], item["provider"], item["provider_id"])
        if subject in seen:
            raise invalid_input(f"Duplicate authorization subject: {item['provider_id']}")
        seen.add(subject)
        stored.append({**item, "role": entry["role"]})
    return stored


def _user_for(state: SandboxState, entry: dict[str, Any], *, on_patch: bool) -> SandboxUser:
    ref = entry.get("provider_id")
    if not ref and on_patch:  # PATCH also takes email-only entries, which need a provider
        if not entry.get("provider") or not entry.get("email"):
            raise Problem(400, "validation_failed", "Authorization entries need provider_id, or provider and email")
        ref = entry["email"]
    if not ref:
        raise invalid_input("Authorization entries need a provider_id")
    if len(ref) > 255:
        raise invalid_input("provider_id must be at most 255 characters")
    user = state.find_user(ref)
    if user is None:
        raise invalid_input(UNKNOWN_USER_ON_PATCH if on_patch else UNKNOWN_USER_ON_WRITE)
    return user


def with_server_entries(
    state: SandboxState, creator: SandboxUser, entries: list[dict[str, Any]], *, confidential: bool = False
) -> list[dict[str, Any]]:
    """The entries `POST /threat_models` adds: the creator as owner (both generations), and at 1.8
    the reviewers' and automation groups."""
    own = creator_entry(state, creator)
    result = [dict(e) for e in entries if not _same_subject(state, e, own)]
    result.insert(0, own)
    if not state.config.is_legacy:
        reviewers = "confidential-project-reviewers" if confidential else "security-reviewers"
        for group, role in ((reviewers, "owner"), ("tmi-automation", "writer")):
            if not any(e["principal_type"] == "group" and e["provider_id"] == group for e in result):
                result.append({"principal_type": "group", "provider": "tmi", "provider_id": group, "role": role})
    return result


def _same_subject(state: SandboxState, entry: dict[str, Any], own: dict[str, Any]) -> bool:
    if entry.get("principal_type") != "user":
        return False
    if state.config.is_legacy:
        return entry.get("provider_id") == own["provider_id"]
    return (entry.get("provider"), entry.get("provider_id")) == (own["provider"], own["provider_id"])


def _signature(entries: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    return sorted(
        (e.get("principal_type", ""), e.get("provider", ""), e.get("provider_id", ""), e.get("role", ""))
        for e in entries
    )


def require_owner_to_change(call: Call, *, acl: list[dict[str, Any]] | None = None, owner: Any = None) -> None:
    """403 unless the caller owns the model, when the owner or the ACL would change."""
    tm = call.tm or {}
    changed = (acl is not None and _signature(acl) != _signature(tm.get("authorization", []))) or (
        owner is not None and owner != tm.get("owner")
    )
    if changed and call.role != "owner":
        raise forbidden(call.state, OWNER_ONLY)
