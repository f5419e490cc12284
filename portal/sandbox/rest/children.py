"""The threat model's children: threats, diagrams, documents, assets, notes, repositories
(PROTOCOL.md 5.3-5.5 and 9.3). One set of handlers, parametrised by `Kind`; diagrams add their
cell and session rules through `diagrams.py`."""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from portal.sandbox.rest import addresses, diagrams, filters, locking, patch, shapes
from portal.sandbox.rest.pipeline import Call, Operation, Problem, invalid_input, not_found
from portal.sandbox.rest.spec import load as load_spec
from portal.sandbox.rest.threat_models import ITEM as TM_ITEM
from portal.sandbox.rest.threat_models import include_deleted
from portal.sandbox.state import SandboxState, new_uuid, new_uuid7

# What the server owns on every child; a PATCH may not change them and PUT keeps them.
SERVER_FIELDS = (
    "id",
    "alias",
    "threat_model_id",
    "created_at",
    "modified_at",
    "deleted_at",
    "auto_generated",
    "update_vector",
    "access_status",
    "content_source",
    "access_diagnostics",
)
PATCH_NEVER = ("id", "alias", "created_at", "modified_at")


@dataclass(frozen=True)
class Kind:
    collection: str  # URL segment, stored list key and 1.8 list wrapper key
    id_param: str
    label: str
    schema: str  # the full response schema, used to check a patched object
    locked: bool  # 1.8 If-Match applies (PROTOCOL.md 5.1)
    delete_role: str = "writer"

    @property
    def list_path(self) -> str:
        return f"{TM_ITEM}/{self.collection}"

    @property
    def item_path(self) -> str:
        return f"{self.list_path}/{{{self.id_param}}}"

    def missing(self, *, legacy: bool = False) -> str:
        if self.collection == "diagrams":
            return f"{self.label} not found in this threat model"
        if self.collection == "repositories" and legacy:  # the real 0.217.8's words
            return "Repository code reference not found"
        return f"{self.label} not found"


KINDS = (
    Kind("threats", "threat_id", "Threat", "Threat", locked=True),
    Kind("diagrams", "diagram_id", "Diagram", "DfdDiagram", locked=True, delete_role="owner"),
    Kind("documents", "document_id", "Document", "Document", locked=True),
    Kind("assets", "asset_id", "Asset", "Asset", locked=True),
    Kind("notes", "note_id", "Note", "Note", locked=False),
    Kind("repositories", "repository_id", "Repository", "Repository", locked=False),
)
KIND_BY_COLLECTION = {k.collection: k for k in KINDS}


def find(call: Call, kind: Kind, child_id: str | None = None) -> dict[str, Any]:
    """The child under the gated threat model; 404 when it belongs elsewhere or was deleted."""
    child_id = child_id or call.params[kind.id_param]
    for obj in call.tm.get(kind.collection, []):
        if obj["id"] == child_id and not obj.get("deleted_at"):
            return obj
    raise not_found(kind.missing(legacy=call.legacy))


def _input_properties(state: SandboxState, kind: Kind) -> set[str]:
    spec = load_spec(state.config.generation)
    schema = spec.body_schema(kind.item_path, "PUT", "application/json") or {}
    return set(spec.resolve(schema).get("properties", {}))


# Fields the real servers fill on a child that the body left out (seen 2026-12-04): 1.8.22 marks threats and
# notes not auto-generated and documents as plain HTTP links of unknown reachability; both generations store a
# threat as not mitigated.
_SERVER_DEFAULTS_18 = {
    "threats": {"auto_generated": False, "mitigated": False},
    "notes": {"auto_generated": False},
    "documents": {"access_status": "unknown", "content_source": "http"},
}
_SERVER_DEFAULTS_0217 = {"threats": {"mitigated": False}}


def _defaults(state: SandboxState, kind: Kind) -> dict[str, Any]:
    full = load_spec(state.config.generation).properties(kind.schema)
    out: dict[str, Any] = {key: True for key in ("include_in_report", "timmy_enabled") if key in full}
    if "metadata" in full:
        out["metadata"] = []
    server = _SERVER_DEFAULTS_0217 if state.config.is_legacy else _SERVER_DEFAULTS_18
    out.update(server.get(kind.collection, {}))
    return out


def new_child(
    state: SandboxState,
    tm: dict[str, Any],
    kind: Kind,
    body: dict[str, Any],
    *,
    child_id: str | None = None,
    at: str | None = None,
) -> dict[str, Any]:
    """Store a child as its POST does (shared with the seed)."""
    now = at or state.timestamp()
    # Both real servers give threats time-ordered UUIDv7 ids; everything else gets v4.
    fresh_id = new_uuid7() if kind.collection == "threats" else new_uuid()
    obj: dict[str, Any] = {"id": child_id or fresh_id, **_defaults(state, kind)}
    if kind.collection == "diagrams":
        obj.update(diagrams.fresh(state, body))
    else:
        allowed = _input_properties(state, kind)
        obj.update({k: copy.deepcopy(v) for k, v in body.items() if k in allowed})
    if kind.collection == "threats":
        obj["threat_model_id"] = tm["id"]
    obj.update(created_at=now, modified_at=now)
    if not state.config.is_legacy:
        obj["alias"] = state.next_alias(tm["id"] + "/" + kind.collection)
        if kind.locked:
            state.versions[obj["id"]] = 1
    tm.setdefault(kind.collection, []).append(obj)
    return obj


def check_references(state: SandboxState, kind: Kind, body: dict[str, Any]) -> None:
    """What 1.8's handlers refuse after the spec passed a body: a threat's empty `asset_id`, which the
    spec's pattern allows (PROTOCOL.md 12.4), and a document's or repository's uri that is not https or
    names an internal address (12.2; addresses.uri_refusal)."""
    if state.config.is_legacy:
        return
    if kind.collection == "threats" and body.get("asset_id") == "":
        raise invalid_input("Invalid UUID format for asset_id")
    if kind.collection in ("documents", "repositories") and body.get("uri"):
        refusal = addresses.uri_refusal(str(body["uri"]), resolve=state.config.resolve_uri_hosts)
        if refusal:
            raise invalid_input(refusal)


# -- handlers ----------------------------------------------------------------------------------
def list_children(call: Call, kind: Kind) -> Response:
    items = shapes.live(call.tm.get(kind.collection, []), include_deleted(call))
    if kind.collection == "threats":
        items = filters.sort(
            filters.apply(items, _threat_filters(call.query)),
            call.query.get("sort") or filters.DEFAULT_SORT,
            lenient=True,  # both real servers answer 200 to a sort they cannot read (0.217.8 too, 2026-12-04)
        )
    views = [shapes.list_item(call.state, kind.collection, obj) for obj in items]
    return call.json(shapes.page(call.state, kind.collection, views, call.query))


def _threat_filters(query: dict[str, Any]) -> list[filters.Predicate]:
    score_tests = {
        "gt": lambda a, b: a > b,
        "lt": lambda a, b: a < b,
        "eq": lambda a, b: a == b,
        "ge": lambda a, b: a >= b,
        "le": lambda a, b: a <= b,
    }
    predicates = [
        *filters.contains(query, "name"),
        *filters.contains(query, "description"),
        *[p for name in ("threat_type", "severity", "priority", "status") for p in filters.one_of(query, name)],
        *filters.equals(query, "mitigated"),
        *filters.equals(query, "diagram_id"),
        *filters.equals(query, "cell_id"),
        *filters.time_window(query, "created_at"),
        *filters.time_window(query, "modified_at"),
    ]
    for suffix, test in score_tests.items():
        bound = query.get(f"score_{suffix}")
        if bound is not None:
            predicates.append(lambda t, b=bound, f=test: t.get("score") is not None and f(t["score"], b))
    return predicates


def view(call: Call, kind: Kind, obj: dict[str, Any], op: str) -> dict[str, Any]:
    return shapes.child_view(call.state, kind.collection, obj, op)


def create_view(call: Call, kind: Kind, obj: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """1.8's create answer echoes the body: a threat's `mitigated` appears only when it was sent (reads fill it)."""
    shown = view(call, kind, obj, "create")
    if not call.legacy and kind.collection == "threats" and "mitigated" not in body:
        shown.pop("mitigated", None)
    return shown


def get_child(call: Call, kind: Kind) -> Response:
    return call.json(view(call, kind, find(call, kind), "read"))


def create_child(call: Call, kind: Kind) -> Response:
    check_references(call.state, kind, call.body)
    obj = new_child(call.state, call.tm, kind, call.body)
    if kind.collection == "diagrams":
        call.headers["Location"] = f"/threat_models/{call.tm['id']}/diagrams/{obj['id']}"
    return call.json(create_view(call, kind, obj, call.body), 201)


def put_child(call: Call, kind: Kind) -> Response:
    obj = find(call, kind)
    if kind.collection == "diagrams":
        diagrams.refuse_cells_on_put(call.state, obj["id"], call.body)
    return call.json(view(call, kind, store(call, kind, obj, replacement(call.state, kind, obj, call.body)), "put"))


def patch_child(call: Call, kind: Kind) -> Response:
    obj = find(call, kind)
    stored = store(call, kind, obj, patched(kind, obj, call.body), check_schema=True)
    return call.json(view(call, kind, stored, "patch"))


def delete_child(call: Call, kind: Kind) -> Response:
    if call.legacy and not any(o["id"] == call.params[kind.id_param] for o in call.tm.get(kind.collection, [])):
        # The real 0.217.8 answers a child that is not there (already deleted) with its store's failure.
        raise Problem(500, "server_error", f"Failed to delete {kind.label.lower()}")
    remove(call, kind, find(call, kind))
    return call.no_content()


def replacement(state: SandboxState, kind: Kind, obj: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """PUT semantics: the body replaces every writable field; the server's fields stay."""
    replaced = {k: obj[k] for k in SERVER_FIELDS if k in obj}
    replaced.update(_defaults(state, kind))
    if "metadata" in obj and "metadata" not in body:  # metadata survives a PUT that leaves it out
        replaced["metadata"] = obj["metadata"]
    allowed = _input_properties(state, kind)
    replaced.update({k: copy.deepcopy(v) for k, v in body.items() if k in allowed})
    return replaced


def patched(kind: Kind, obj: dict[str, Any], document: Any) -> dict[str, Any]:
    patch.refuse_read_only(document, PATCH_NEVER)
    return patch.keep_server_fields(obj, patch.apply(obj, document), SERVER_FIELDS)


def store(
    call: Call,
    kind: Kind,
    obj: dict[str, Any],
    new: dict[str, Any],
    *,
    check_schema: bool = False,
    conditional: bool = True,
) -> dict[str, Any]:
    """Write `new` over `obj`: session check and cell rules for diagrams, schema check for
    patches, then the lock (If-Match when `conditional`, else a silent version bump for bulk)."""
    state = call.state
    if kind.collection == "diagrams":
        diagrams.refuse_during_session(state, obj["id"], "modify")
        diagrams.prepare_update(obj, new, legacy=call.legacy, put=call.request.method == "PUT")
    if check_schema:
        spec = load_spec(state.config.generation)
        errors = spec.patched_errors(spec.body_schema(kind.item_path, "PUT", "application/json"), kind.schema, new)
        if errors:
            raise invalid_input(f"Patched {kind.label.lower()} is invalid: {errors[0]}")
    check_references(state, kind, new)
    if kind.locked and conditional:
        locking.check_and_bump(call, obj["id"])
    elif kind.locked:
        locking.bump(state, obj["id"])
    obj.clear()
    obj.update(new)
    state.touch(obj)  # the child alone: neither generation moves the model's modified_at (PROTOCOL.md 12.9)
    return obj


def remove(call: Call, kind: Kind, obj: dict[str, Any]) -> None:
    """1.8 soft-deletes; 0.217 deletes for good."""
    if kind.collection == "diagrams":
        diagrams.refuse_during_session(call.state, obj["id"], "delete")
    if call.legacy:  # the real 0.217.8 leaves the model's modified_at alone here too (2026-12-04)
        call.tm[kind.collection].remove(obj)
    else:  # a soft delete is a write of the child alone (PROTOCOL.md 12.9)
        obj["deleted_at"] = call.state.timestamp()


def restore_child(call: Call, kind: Kind) -> Response:
    """1.8 `POST .../{id}/restore`."""
    child_id = call.params[kind.id_param]
    obj = next((o for o in call.tm.get(kind.collection, []) if o["id"] == child_id and o.get("deleted_at")), None)
    if obj is None:
        raise not_found(kind.missing())
    obj.pop("deleted_at")
    call.state.touch(obj)
    return call.json(view(call, kind, obj, "read"))


def operations(kind: Kind, legacy: bool) -> list[tuple[str, list[Operation]]]:
    def bind(handler):
        return functools.partial(handler, kind=kind)

    ops = [
        (
            kind.list_path,
            [
                Operation(kind.list_path, "GET", bind(list_children), "reader"),
                Operation(kind.list_path, "POST", bind(create_child), "writer"),
            ],
        ),
        (
            kind.item_path,
            [
                Operation(kind.item_path, "GET", bind(get_child), "reader"),
                Operation(kind.item_path, "PUT", bind(put_child), "writer"),
                Operation(kind.item_path, "PATCH", bind(patch_child), "writer"),
                Operation(kind.item_path, "DELETE", bind(delete_child), kind.delete_role),
            ],
        ),
    ]
    if not legacy:
        restore = kind.item_path + "/restore"
        ops.append((restore, [Operation(restore, "POST", bind(restore_child), kind.delete_role)]))
    return ops
