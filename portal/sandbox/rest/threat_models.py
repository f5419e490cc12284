"""`/threat_models` and `/threat_models/{id}` (PROTOCOL.md 5.2 and 9.3)."""

from __future__ import annotations

import copy
from typing import Any

from starlette.responses import JSONResponse, Response

from portal.sandbox.rest import acl, filters, locking, patch, shapes
from portal.sandbox.rest.pipeline import Call, Operation, conflict, forbidden, invalid_input, not_found
from portal.sandbox.rest.spec import load as load_spec
from portal.sandbox.state import new_uuid

COLLECTION = "/threat_models"
ITEM = "/threat_models/{threat_model_id}"

# 1.8 PATCH allow-list (PROTOCOL.md 5.2).
PATCH_ANY_WRITER = {
    "name",
    "description",
    "issue_uri",
    "metadata",
    "threat_model_framework",
    "project_id",
    "source_code",
    "sourceCode",
    "repository_uri",
}
PATCH_REVIEWER = {"status", "security_reviewer"}
PATCH_OWNER = {"owner", "authorization"}
PATCH_NEVER = ("id", "alias", "created_at", "modified_at")
# 0.217 PATCH blacklist (PROTOCOL.md 9.3).
PATCH_BLACKLIST_0217 = {
    "id",
    "created_at",
    "modified_at",
    "created_by",
    "diagrams",
    "documents",
    "threats",
    "sourceCode",
}
_SERVER_FIELDS = (
    "id",
    "alias",
    "created_at",
    "modified_at",
    "created_by",
    "deleted_at",
    "is_confidential",
    *shapes.CHILD_KEYS,
)


def include_deleted(call: Call) -> bool:
    """`include_deleted=true` is for administrators only (1.8); 0.217 has no soft delete."""
    wanted = bool(call.query.get("include_deleted"))
    if wanted and not call.user.is_admin:
        raise forbidden(call.state)
    return wanted


def list_threat_models(call: Call) -> Response:
    state, user = call.state, call.user
    deleted = include_deleted(call)
    items = [
        tm
        for tm in state.threat_models.values()
        if state.role_of(user, tm) is not None and (deleted or not tm.get("deleted_at"))
    ]
    if not call.legacy:  # 0.217 accepts the filters and ignores them
        items = filters.apply(items, _list_filters(call.query))
    items.sort(key=lambda tm: tm["created_at"], reverse=True)
    views = [shapes.tm_list_item(state, tm) for tm in items]
    return call.json(shapes.page(state, "threat_models", views, call.query))


def _principal_texts(principal: Any) -> list[str]:
    if isinstance(principal, dict):
        return [principal.get("email") or "", principal.get("display_name") or ""]
    return [str(principal or "")]


def _list_filters(query: dict[str, Any]) -> list[filters.Predicate]:
    return [
        *filters.contains(query, "name"),
        *filters.contains(query, "description"),
        *filters.contains(query, "issue_uri"),
        *filters.contains(query, "owner", lambda tm: _principal_texts(tm.get("owner"))),
        *filters.contains(query, "security_reviewer", lambda tm: _principal_texts(tm.get("security_reviewer"))),
        *filters.one_of(query, "status"),
        *filters.time_window(query, "created_at"),
        *filters.time_window(query, "modified_at"),
        *filters.time_window(query, "status_updated", "status_updated"),
    ]


EMPTY_NAME_0217 = "Field 'name' is required. This field identifies the resource and must be provided."
# 1.8.22 keeps status write-backs for add-ons acting on a person's behalf (its words).
SERVICE_ACCOUNT_STATUS = (
    "service account credentials cannot be used here; addon write-backs must use the delegation token from "
    "X-TMI-Delegation-Token"
)
# 1.8 numbers threat models from 10001 (its children from 1 per model), as the real 1.8.22 did.
FIRST_ALIAS_18 = 10001


def create_threat_model(call: Call) -> Response:
    if call.legacy and not str(call.body.get("name") or "").strip():
        raise invalid_input(EMPTY_NAME_0217)
    tm = new_threat_model(call.state, call.user, call.body)
    if call.service_account:  # the real 1.8.22 names the service account, with its owner's ids
        for field in ("owner", "created_by"):
            tm[field]["display_name"] = call.service_account
    view = shapes.tm_full(call.state, tm, op="create")  # the create response echoes framework "" (5.2)
    call.headers["Location"] = f"/threat_models/{tm['id']}"
    return call.json(view, 201)


def new_threat_model(
    state, user, body: dict[str, Any], *, tm_id: str | None = None, at: str | None = None
) -> dict[str, Any]:
    """Store a threat model as `POST /threat_models` does (shared with the seed)."""
    now = at or state.timestamp()
    principal = shapes.principal_for(state, user)
    confidential = bool(body.get("is_confidential"))
    entries = acl.with_server_entries(
        state, user, acl.resolve(state, body.get("authorization")), confidential=confidential
    )
    tm: dict[str, Any] = {"id": tm_id or new_uuid(), "name": body["name"]}
    if body.get("description") is not None:
        tm["description"] = body["description"]
    tm.update(
        threat_model_framework="",
        authorization=entries,
        metadata=[],
        owner=principal,
        created_by=copy.deepcopy(principal),
        created_at=now,
        modified_at=now,
    )
    if not state.config.is_legacy:  # 0.217 reads only name, description and authorization
        tm["threat_model_framework"] = body.get("threat_model_framework") or ""
        tm["metadata"] = list(body.get("metadata") or [])
        if body.get("issue_uri"):
            tm["issue_uri"] = body["issue_uri"]
        tm.update(
            is_confidential=confidential,
            status="not_started",
            status_updated=now,
            alias=FIRST_ALIAS_18 - 1 + state.next_alias("threat_models"),
        )
        state.versions[tm["id"]] = 1
    else:  # unset until a reviewer sets it; 0.217 answers null (and a JSON Patch may replace it)
        tm.update(status=None, status_updated=None)
    for key in shapes.CHILD_KEYS:
        tm[key] = []
    state.threat_models[tm["id"]] = tm
    return tm


def get_threat_model(call: Call) -> Response:
    return call.json(shapes.tm_full(call.state, call.tm, op="read"))


def put_threat_model(call: Call) -> Response:
    body, tm = call.body, call.tm
    if call.legacy:
        missing = [f for f in ("threat_model_framework", "authorization") if f not in body]
        if missing:
            raise invalid_input(f"request body has an error: '{missing[0]}' is a required property")
    entries = acl.resolve(call.state, body.get("authorization"))
    if call.legacy:  # GET's `[]` sent back changes nothing (0.217 reads every ACL back as [])
        entries = _with_creator_entry(tm, entries) if entries else copy.deepcopy(tm.get("authorization", []))
    acl.require_owner_to_change(call, acl=entries)
    locking.check_and_bump(call, tm["id"], body.get("version"))
    tm["name"] = body["name"]
    for key in ("description", "issue_uri"):  # full replacement: omitted means cleared
        if body.get(key) is not None:
            tm[key] = body[key]
        else:
            tm.pop(key, None)
    tm["threat_model_framework"] = body.get("threat_model_framework") or ""
    if "metadata" in body:
        tm["metadata"] = list(body["metadata"] or [])
    tm["authorization"] = entries  # omitted: the whole ACL is wiped, the owner keeps access by `owner`
    call.state.touch(tm)
    view = shapes.tm_full(call.state, tm, op="put")
    if not call.legacy and "metadata" not in body:  # 1.8 answers metadata only when the PUT sent it
        view.pop("metadata", None)
    if call.legacy or "authorization" in body:
        return call.json(view)
    # 1.8 answers `"authorization": null` when the PUT left it out: the one null a 1.8 answer carries
    # (the real 1.8.22, 2026-12-04), so it goes out past call.json's null filter.
    view = {**shapes.without_nulls(view), "authorization": None}
    return JSONResponse(view, headers=call.headers or None)


def _with_creator_entry(tm: dict[str, Any], entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """0.217 reads a model back without its creator's owner entry (`authorization: []` for an unshared model), and a
    PUT of that list keeps the owner as they were (the real 0.217.8, 2026-12-04): the entry is not the client's."""
    owner_id = (tm.get("owner") or {}).get("provider_id") if isinstance(tm.get("owner"), dict) else tm.get("owner")
    own = [
        e
        for e in tm.get("authorization", [])
        if e.get("principal_type") == "user" and e.get("role") == "owner" and e.get("provider_id") == owner_id
    ]
    sent = [e for e in entries if not (e.get("principal_type") == "user" and e.get("provider_id") == owner_id)]
    return [copy.deepcopy(e) for e in own] + sent


def patch_threat_model(call: Call) -> Response:
    state, tm, document = call.state, call.tm, call.body
    fields = {patch.top_field(p) for p in patch.paths(document)}
    _check_patch_fields(call, fields)
    current = {k: copy.deepcopy(v) for k, v in tm.items() if k not in shapes.CHILD_KEYS}
    patched = patch.keep_server_fields(current, patch.apply(current, document), _SERVER_FIELDS)
    if "authorization" in fields:  # email-only entries become provider ids before validation
        if not isinstance(patched.get("authorization"), list):
            raise invalid_input("Patched threat model is invalid: authorization must be an array")
        patched["authorization"] = acl.resolve(state, patched["authorization"], on_patch=True)
    _validate_patched(call, patched)
    if "owner" in fields:
        patched["owner"] = _principal_from(call, patched.get("owner"))
    if "security_reviewer" in fields and patched.get("security_reviewer") is not None:
        patched["security_reviewer"] = _principal_from(call, patched["security_reviewer"])
    acl.require_owner_to_change(call, acl=patched.get("authorization", []), owner=patched.get("owner"))
    locking.check_and_bump(call, tm["id"])
    answered_status_updated = tm.get("status_updated")
    if patched.get("status") != tm.get("status"):
        patched["status_updated"] = state.timestamp()
    for key in list(tm):
        if key not in shapes.CHILD_KEYS and key not in patched:
            del tm[key]
    tm.update(patched)
    state.touch(tm)
    view = shapes.tm_full(state, tm, op="patch")
    if call.legacy:  # the real 0.217.8's PATCH answer shows status_updated as it was; a GET shows the new time
        view["status_updated"] = answered_status_updated
    return call.json(view)


def _check_patch_fields(call: Call, fields: set[str]) -> None:
    if call.legacy:
        refused = sorted(fields & PATCH_BLACKLIST_0217)
        if refused:
            raise invalid_input(f"Field '{refused[0]}' is not allowed in PATCH requests")
        return
    patch.refuse_read_only(call.body, PATCH_NEVER)
    for field in sorted(fields):
        if field not in PATCH_ANY_WRITER | PATCH_REVIEWER | PATCH_OWNER:
            raise invalid_input(f"Field '{field}' cannot be changed with PATCH")
    if fields & PATCH_OWNER and call.role != "owner":
        raise forbidden(call.state, acl.OWNER_ONLY)
    if "status" in fields and call.service_account and not call.legacy:
        raise forbidden(call.state, SERVICE_ACCOUNT_STATUS)
    if fields & PATCH_REVIEWER and not _is_reviewer(call):
        only_clears = (
            fields & PATCH_REVIEWER == {"security_reviewer"}
            and call.role == "owner"
            and all(
                op.get("op") == "remove" or op.get("value") is None
                for op in call.body
                if patch.top_field(op.get("path", "")) == "security_reviewer"
            )
        )
        if not only_clears:
            raise forbidden(call.state, "Only security reviewers can change status or security_reviewer")


def _is_reviewer(call: Call) -> bool:
    user, reviewer = call.user, (call.tm or {}).get("security_reviewer")
    if user.is_security_reviewer or user.is_admin:
        return True
    return isinstance(reviewer, dict) and reviewer.get("provider_id") == user.provider_id


def _principal_from(call: Call, value: Any) -> dict[str, Any]:
    ref = value.get("provider_id") or value.get("email") if isinstance(value, dict) else value
    user = call.state.find_user(ref) if isinstance(ref, str) else None
    if user is None:
        raise invalid_input(acl.UNKNOWN_USER_ON_PATCH)
    return shapes.principal_for(call.state, user)


def _validate_patched(call: Call, patched: dict[str, Any]) -> None:
    spec = load_spec(call.state.config.generation)
    errors = spec.patched_errors(spec.body_schema(ITEM, "PUT", "application/json"), "ThreatModel", patched)
    for key in ("project_id", "status"):
        if patched.get(key) is not None and not isinstance(patched[key], str):
            errors.append(f"'{key}' must be a string")
    if errors:
        raise invalid_input(f"Patched threat model is invalid: {errors[0]}")


def delete_threat_model(call: Call) -> Response:
    state, tm = call.state, call.tm
    if any(state.has_active_session(d["id"]) for d in tm.get("diagrams", [])):
        raise conflict(
            "Cannot delete threat model while a diagram has an active collaboration session. "
            "Please end the collaboration session first."
        )
    if call.legacy:
        del state.threat_models[tm["id"]]
    else:
        tm["deleted_at"] = state.timestamp()
    return call.no_content()


def restore_threat_model(call: Call) -> Response:
    """1.8 `POST /threat_models/{id}/restore`: the owner brings a soft-deleted model back."""
    state = call.state
    tm = state.get_threat_model(call.params["threat_model_id"])
    if tm is None or not tm.get("deleted_at"):
        raise not_found("Threat model not found")
    if state.role_of(call.user, tm) != "owner" and not call.user.is_admin:
        raise forbidden(state)
    tm.pop("deleted_at")
    state.touch(tm)
    return call.json(shapes.tm_full(state, tm, op="read"))


def operations() -> list[tuple[str, list[Operation]]]:
    return [
        (
            COLLECTION,
            [
                Operation(COLLECTION, "GET", list_threat_models, None),
                Operation(COLLECTION, "POST", create_threat_model, None),
            ],
        ),
        (
            ITEM,
            [
                Operation(ITEM, "GET", get_threat_model, "reader"),
                Operation(ITEM, "PUT", put_threat_model, "writer"),
                Operation(ITEM, "PATCH", patch_threat_model, "writer"),
                Operation(ITEM, "DELETE", delete_threat_model, "owner"),
            ],
        ),
    ]


def restore_operations() -> list[tuple[str, list[Operation]]]:
    path = ITEM + "/restore"
    return [(path, [Operation(path, "POST", restore_threat_model, None, gated=False)])]
