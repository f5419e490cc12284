"""How stored objects look on the wire, per generation (PROTOCOL.md 5.2-5.5 and 9.3).

Threat models are stored in the running generation's own shape with their children embedded; these
functions only shape views of them (list items, full objects, principals).
"""

from __future__ import annotations

import copy
from typing import Any

from portal.sandbox.state import SandboxState, SandboxUser

CHILD_KEYS = ("threats", "diagrams", "documents", "assets", "notes", "repositories")
EMBEDDED_18 = ("threats", "diagrams")  # what 1.8's GET /threat_models/{id} embeds (PROTOCOL.md 12.10)
_COUNT_KEYS = {
    "documents": "document_count",
    "repositories": "repo_count",
    "diagrams": "diagram_count",
    "threats": "threat_count",
    "assets": "asset_count",
    "notes": "note_count",
}
DEFAULT_FRAMEWORK = "STRIDE"


def principal_for(state: SandboxState, user: SandboxUser) -> dict[str, Any]:
    """The `User` object stored as owner / created_by. 0.217 uses the email as provider_id."""
    principal = user.principal()
    if state.config.is_legacy:
        principal["provider_id"] = user.email
    return principal


def creator_entry(state: SandboxState, user: SandboxUser) -> dict[str, Any]:
    entry = {"principal_type": "user", "provider": user.provider, "provider_id": user.provider_id, "role": "owner"}
    if state.config.is_legacy:
        entry.update(provider_id=user.email, email=user.email, display_name=user.display_name)
    return entry


def live(items: list[dict[str, Any]], include_deleted: bool = False) -> list[dict[str, Any]]:
    """Soft-deleted entities (1.8) are hidden unless an admin asked for them."""
    return items if include_deleted else [i for i in items if not i.get("deleted_at")]


def acl_view(state: SandboxState, acl: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """1.8 fills each user's email and display name from the user table on the way out."""
    if state.config.is_legacy:
        return copy.deepcopy(acl)
    out = []
    for entry in acl:
        entry = dict(entry)
        if entry.get("principal_type") == "user":
            user = state.find_user(entry.get("provider_id", ""))
            if user is not None:
                entry["email"], entry["display_name"] = user.email, user.display_name
        out.append(entry)
    return out


def framework(tm: dict[str, Any]) -> str:
    return tm.get("threat_model_framework") or DEFAULT_FRAMEWORK


def tm_full(state: SandboxState, tm: dict[str, Any], *, children: bool = True) -> dict[str, Any]:
    """The full `ThreatModel`. 0.217 embeds every child collection; 1.8 embeds only `threats` and
    `diagrams` (PROTOCOL.md 5.2, seen in 12.10), and its threats include soft-deleted ones (12.17)."""
    body = {k: copy.deepcopy(v) for k, v in tm.items() if k not in CHILD_KEYS}
    body["authorization"] = acl_view(state, tm.get("authorization", []))
    if not state.config.is_legacy:
        body["threat_model_framework"] = framework(tm)
    if children:
        for key in CHILD_KEYS if state.config.is_legacy else EMBEDDED_18:
            body[key] = _embedded(state, tm.get(key, []), key)
    return body


def _embedded(state: SandboxState, items: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    if state.config.is_legacy or key != "threats":
        return copy.deepcopy(live(items))
    # The real 1.8.22 keeps a soft-deleted threat in the model, without its `deleted_at`, while the threats
    # list, GET .../threats/{id} and `threat_count` leave it out (PROTOCOL.md 12.17).
    return [{k: copy.deepcopy(v) for k, v in threat.items() if k != "deleted_at"} for threat in items]


def without_nulls(content: Any) -> Any:
    """1.8 never sends `null`: an unset optional field is left out (PROTOCOL.md 12.10). Diagram cells are
    the exception: the server stores them verbatim (5.4), so they go out as the client sent them."""
    if isinstance(content, list):
        return [without_nulls(item) for item in content]
    if isinstance(content, dict):
        return {k: v if k == "cells" else without_nulls(v) for k, v in content.items() if v is not None}
    return content


def _owner_string(principal: Any) -> str:
    if isinstance(principal, dict):
        return principal.get("display_name") or principal.get("provider_id", "")
    return str(principal or "")


def tm_list_item(state: SandboxState, tm: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = {
        k: tm[k]
        for k in ("id", "name", "description", "created_at", "modified_at", "issue_uri", "status", "status_updated")
        if tm.get(k) is not None
    }
    item["threat_model_framework"] = framework(tm)
    for key, count_key in _COUNT_KEYS.items():
        item[count_key] = len(live(tm.get(key, [])))
    if state.config.is_legacy:
        item["owner"], item["created_by"] = _owner_string(tm.get("owner")), _owner_string(tm.get("created_by"))
        return item
    item["owner"], item["created_by"] = copy.deepcopy(tm["owner"]), copy.deepcopy(tm["created_by"])
    for key in ("security_reviewer", "alias", "deleted_at"):
        if tm.get(key) is not None:
            item[key] = copy.deepcopy(tm[key])
    return item


_DIAGRAM_ITEM_18 = (
    "id",
    "name",
    "type",
    "description",
    "created_at",
    "modified_at",
    "image",
    "include_in_report",
    "timmy_enabled",
    "alias",
    "deleted_at",
)
_NOTE_ITEM = (
    "id",
    "name",
    "description",
    "metadata",
    "created_at",
    "modified_at",
    "include_in_report",
    "timmy_enabled",
    "alias",
    "deleted_at",
)


def list_item(state: SandboxState, collection: str, obj: dict[str, Any]) -> dict[str, Any]:
    """A child as its list shows it: diagrams and notes are cut down, the rest are whole."""
    if collection == "diagrams":
        keys = ("id", "name", "type") if state.config.is_legacy else _DIAGRAM_ITEM_18
    elif collection == "notes":
        keys = _NOTE_ITEM
    else:
        return copy.deepcopy(obj)
    return {k: copy.deepcopy(obj[k]) for k in keys if obj.get(k) is not None}


def page(state: SandboxState, collection: str, items: list[dict[str, Any]], query: dict[str, Any]) -> Any:
    """1.8: the `{<items>, total, limit, offset}` wrapper; 0.217: a plain array (PROTOCOL.md 5.1, 9.3)."""
    limit, offset = query.get("limit", 20), query.get("offset", 0)
    window = items[offset : offset + limit]
    if state.config.is_legacy:
        return window
    return {collection: window, "total": len(items), "limit": limit, "offset": offset}
