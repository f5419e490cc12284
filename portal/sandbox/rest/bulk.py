"""`.../{children}/bulk`: create or replace up to 20 children at once; threats also take bulk
JSON Patch and bulk delete (PROTOCOL.md 5.3). Each item follows the single-item rules, without
If-Match; the whole request fails before any change if one target is missing."""

from __future__ import annotations

import functools

from starlette.responses import Response

from portal.sandbox.rest import children
from portal.sandbox.rest.children import Kind
from portal.sandbox.rest.pipeline import Call, Operation, declared
from portal.sandbox.rest.spec import Spec


def create_many(call: Call, kind: Kind) -> Response:
    for item in call.body:  # every item is checked before any is stored
        children.check_references(call.state, kind, item)
    created = [children.new_child(call.state, call.tm, kind, item) for item in call.body]
    return call.json([children.create_view(call, kind, o, item) for o, item in zip(created, call.body)], 201)


def replace_many(call: Call, kind: Kind) -> Response:
    targets = [children.find(call, kind, item["id"]) for item in call.body]
    updated = [
        children.store(call, kind, obj, children.replacement(call.state, kind, obj, item), conditional=False)
        for obj, item in zip(targets, call.body)
    ]
    return call.json([children.view(call, kind, obj, "put") for obj in updated])


def patch_many(call: Call, kind: Kind) -> Response:
    targets = [children.find(call, kind, item["id"]) for item in call.body["patches"]]
    updated = [
        children.store(
            call, kind, obj, children.patched(kind, obj, item["operations"]), check_schema=True, conditional=False
        )
        for obj, item in zip(targets, call.body["patches"])
    ]
    return call.json([children.view(call, kind, obj, "patch") for obj in updated])


def delete_many(call: Call, kind: Kind) -> Response:
    ids = list(dict.fromkeys(call.query[f"{kind.id_param}s"]))
    for obj in [children.find(call, kind, child_id) for child_id in ids]:
        children.remove(call, kind, obj)
    return call.json({"deleted_count": len(ids), "deleted_ids": ids})


def operations(spec: Spec, kind: Kind) -> list[tuple[str, list[Operation]]]:
    path = kind.list_path + "/bulk"
    handlers = {"POST": create_many, "PUT": replace_many, "PATCH": patch_many, "DELETE": delete_many}
    ops = declared(spec, path, {m: (functools.partial(h, kind=kind), "writer") for m, h in handlers.items()})
    return [(path, ops)] if ops else []
