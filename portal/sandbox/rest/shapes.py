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
    """The creator's owner entry, bare as both create answers show it (0.217: provider_id is the email)."""
    entry = {"principal_type": "user", "provider": user.provider, "provider_id": user.provider_id, "role": "owner"}
    if state.config.is_legacy:
        entry["provider_id"] = user.email
    return entry


def live(items: list[dict[str, Any]], include_deleted: bool = False) -> list[dict[str, Any]]:
    """Soft-deleted entities (1.8) are hidden unless an admin asked for them."""
    return items if include_deleted else [i for i in items if not i.get("deleted_at")]


# Group names 1.8's GET fills in from its group table (the built-in groups' names on the real 1.8.22).
GROUP_NAMES_18 = {
    "tmi-automation": "TMI Automation",
    "security-reviewers": "Security Reviewers",
    "confidential-project-reviewers": "Confidential Project Reviewers",
    "everyone": "Everyone (Pseudo-group)",
}


def acl_view(
    state: SandboxState, acl: list[dict[str, Any]], op: str = "read", owner: Any = None
) -> list[dict[str, Any]]:
    """The `authorization` list as each answer shows it (the real 1.8.22 and 0.217.8, 2026-12-04).

    1.8: a create answers the entries as stored (bare, in the order they were made); every other answer reads
    them back ordered by role descending (writer, reader, owner: SQL `ORDER BY role DESC`). GET fills users'
    email and display name and groups' display name; PATCH fills the users only; PUT only users' emails.
    0.217: the create answer is the stored list; GET and PUT answers say `[]` whatever the model holds (the real
    0.217.8, 2026-12-04, also after a PATCH had added an entry); a PATCH answer shows the entries but the
    creator's own owner entry."""
    if state.config.is_legacy:
        if op == "create":
            return copy.deepcopy(acl)
        if op in ("read", "put"):
            return []
        owner_id = owner.get("provider_id") if isinstance(owner, dict) else owner
        return [
            copy.deepcopy(e)
            for e in acl
            if not (e.get("principal_type") == "user" and e.get("role") == "owner" and e.get("provider_id") == owner_id)
        ]
    entries = [dict(e) for e in acl]
    if op == "create":
        return entries
    entries.sort(key=lambda e: str(e.get("role", "")), reverse=True)  # stable: insertion order within a role
    for entry in entries:
        if entry.get("principal_type") == "user":
            user = state.find_user(entry.get("provider_id", ""))
            if user is not None:
                entry["email"] = user.email
                if op != "put":
                    entry["display_name"] = user.display_name
        elif op == "read" and entry.get("provider_id") in GROUP_NAMES_18:
            entry["display_name"] = GROUP_NAMES_18[entry["provider_id"]]
    return entries


def framework(tm: dict[str, Any]) -> str:
    return tm.get("threat_model_framework") or DEFAULT_FRAMEWORK


def sorted_metadata(entries: Any) -> Any:
    """1.8 reads metadata back ordered by key (PROTOCOL.md 5.6; seen on the real 1.8.22)."""
    if not isinstance(entries, list):
        return entries
    return sorted(copy.deepcopy(entries), key=lambda m: str(m.get("key", "")) if isinstance(m, dict) else "")


# What the real 1.8.22's PUT answer of a threat model carries (nothing else: no alias, metadata, status).
_TM_PUT_KEYS_18 = (
    "authorization",
    "created_at",
    "created_by",
    "description",
    "id",
    "is_confidential",
    "issue_uri",
    "modified_at",
    "name",
    "owner",
    "threat_model_framework",
)
# What 0.217.8's GET /threat_models/{id} embeds (threats and diagrams only; its create answer only threats).
EMBEDDED_0217 = ("threats", "diagrams")


def tm_full(state: SandboxState, tm: dict[str, Any], *, children: bool = True, op: str = "read") -> dict[str, Any]:
    """The `ThreatModel` as the answer to `op` ("create", "read" (GET, restore), "put", "patch") shows it.

    1.8 embeds only `threats` and `diagrams` (PROTOCOL.md 12.10), its threats include soft-deleted ones (12.17)
    and a create answer has no `diagrams`; its PUT answer is thinner (`_TM_PUT_KEYS_18`, children as GET embeds them).
    0.217 embeds threats and diagrams (a create answer only threats), sends `null` for an unset status and
    empty metadata after the create, and shows owner/created_by with the login sub after the create."""
    body = {k: copy.deepcopy(v) for k, v in tm.items() if k not in CHILD_KEYS}
    body["authorization"] = acl_view(state, tm.get("authorization", []), op, tm.get("owner"))
    if state.config.is_legacy:
        return _tm_full_0217(state, tm, body, children=children, op=op)
    # create and PUT answers echo what was stored ("" when the body had none); reads default to STRIDE
    body["threat_model_framework"] = tm.get("threat_model_framework", "") if op in ("create", "put") else framework(tm)
    if "metadata" in body and op not in ("create", "put"):  # create and PUT answers echo the body's order
        body["metadata"] = sorted_metadata(body["metadata"])
    if op == "put":  # no alias, status or status_updated; metadata only when the PUT sent it (the caller's part)
        body = {k: body[k] for k in (*_TM_PUT_KEYS_18, "metadata") if k in body}
    if children:
        for key in ("threats",) if op == "create" else EMBEDDED_18:
            body[key] = _embedded(state, tm.get(key, []), key)
    return body


def _tm_full_0217(
    state: SandboxState, tm: dict[str, Any], body: dict[str, Any], *, children: bool, op: str
) -> dict[str, Any]:
    body.setdefault("status", None)
    body.setdefault("status_updated", None)
    if op == "create":
        body["threat_model_framework"] = tm.get("threat_model_framework", "")
    else:
        body["threat_model_framework"] = framework(tm)
        body["metadata"] = body.get("metadata") or None
        for key in ("owner", "created_by"):
            body[key] = _with_login_sub(state, body.get(key))
    if children:
        for key in ("threats",) if op == "create" else EMBEDDED_0217:
            body[key] = [child_view(state, key, obj, "read") for obj in live(tm.get(key, []))]
    return body


def _with_login_sub(state: SandboxState, principal: Any) -> Any:
    """0.217 stores the owner under the email but reads it back with the login sub as provider_id."""
    if not isinstance(principal, dict):
        return principal
    user = state.find_user(principal.get("provider_id") or principal.get("email") or "")
    return {**principal, "provider_id": user.provider_id} if user is not None else principal


def _embedded(state: SandboxState, items: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    if key != "threats":
        return [child_view(state, key, obj, "read") for obj in live(items)]
    # The real 1.8.22 keeps a soft-deleted threat in the model, without its `deleted_at`, while the threats
    # list, GET .../threats/{id} and `threat_count` leave it out (PROTOCOL.md 12.17).
    return [
        {k: v for k, v in child_view(state, key, threat, "embedded").items() if k != "deleted_at"} for threat in items
    ]


# -- children ---------------------------------------------------------------------------------
# What each 1.8 answer leaves out of a stored child (the real 1.8.22, 2026-12-04). "read" is GET, list and the
# model's embedded diagrams; "patch" is a PATCH answer; "embedded" is a threat inside GET /threat_models/{id}.
_PUT_OMITS_18 = {"alias", "metadata", "auto_generated"}
_OMIT_18: dict[str, dict[str, set[str]]] = {
    "create": {
        "threats": {"metadata", "auto_generated"},
        "diagrams": {"include_in_report", "timmy_enabled", "auto_generated"},
        "documents": {"metadata"},
        "assets": {"metadata"},
        "notes": {"metadata", "auto_generated", "created_at", "modified_at"},
        "repositories": {"metadata", "created_at", "modified_at"},
    },
    "put": {
        "threats": _PUT_OMITS_18 | {"created_at"},
        "diagrams": _PUT_OMITS_18 | {"image"},
        "documents": _PUT_OMITS_18 | {"created_at", "access_status", "content_source"},
        "assets": _PUT_OMITS_18,
        "notes": _PUT_OMITS_18 | {"created_at", "modified_at"},
        "repositories": _PUT_OMITS_18 | {"created_at"},
    },
    "patch": {"repositories": {"created_at"}},
    "read": {"repositories": {"created_at", "modified_at"}},
    "embedded": {"threats": {"alias", "include_in_report", "timmy_enabled", "auto_generated"}},
}
# 0.217.8: fields it sends as null when unset, and the children that carry no timestamps at all.
_NULLABLE_0217 = {
    "threats": ("asset_id", "cell_id", "diagram_id"),
    "diagrams": ("description",),
    "documents": ("description",),
    "assets": ("description", "classification", "criticality", "sensitivity"),
    "notes": ("description",),
    "repositories": ("description",),
}
UNTIMED_0217 = ("documents", "assets", "notes", "repositories")


def child_view(state: SandboxState, collection: str, obj: dict[str, Any], op: str) -> dict[str, Any]:
    """A stored child as the answer to `op` shows it: "create", "read" (GET, list, embedded), "put", "patch"
    or "embedded" (a threat inside its model at 1.8)."""
    view = copy.deepcopy(obj)
    if not state.config.is_legacy:
        for key in _OMIT_18.get(op, {}).get(collection, ()):
            view.pop(key, None)
        if "metadata" in view:
            view["metadata"] = sorted_metadata(view["metadata"])
        return view
    for key in _NULLABLE_0217.get(collection, ()):
        view.setdefault(key, None)
    if collection in UNTIMED_0217:
        view.pop("created_at", None)
        view.pop("modified_at", None)
    if op == "put" and collection == "threats":
        view.pop("created_at", None)
    if op in ("create", "put") and collection in UNTIMED_0217:
        view.pop("metadata", None)
    elif op == "create" and collection == "diagrams":
        view["metadata"] = view.get("metadata") or []
    else:
        view["metadata"] = view.get("metadata") or None
    return view


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
        item.setdefault("status", None)  # 0.217.8 sends null for an unset status
        item.setdefault("status_updated", None)
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
    """A child as its list shows it: diagrams (and 1.8's notes) are cut down, the rest are whole. 0.217.8 lists
    notes with their content (seen 2026-12-04)."""
    view = child_view(state, collection, obj, "read")
    if collection == "diagrams":
        keys = ("id", "name", "type") if state.config.is_legacy else _DIAGRAM_ITEM_18
    elif collection == "notes" and not state.config.is_legacy:
        keys = _NOTE_ITEM
    elif collection == "threats":  # listed without their metadata (GET has it): 1.8.22 leaves it out, 0.217.8 null
        view.pop("metadata", None)
        if state.config.is_legacy:
            view["metadata"] = None
        return view
    else:
        return view
    return {k: view[k] for k in keys if view.get(k) is not None}


def page(state: SandboxState, collection: str, items: list[dict[str, Any]], query: dict[str, Any]) -> Any:
    """1.8: the `{<items>, total, limit, offset}` wrapper; 0.217: a plain array (PROTOCOL.md 5.1, 9.3)."""
    limit, offset = query.get("limit", 20), query.get("offset", 0)
    window = items[offset : offset + limit]
    if state.config.is_legacy:
        return window
    return {collection: window, "total": len(items), "limit": limit, "offset": offset}
