"""Key/value metadata of a threat model or of one of its children (PROTOCOL.md 5.6).

Lists are plain arrays in both generations. `kind`/`item_id` name the child, e.g.
`client.metadata.list(tm, kind="threats", item_id=threat_id)`; without them it is the threat model's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from portal.tmi.calls import Call, Flow, as_model, no_content, server_profile
from portal.tmi.errors import NotFound
from portal.tmi.models import Metadata
from portal.tmi.resources.base import Resource, operation

KINDS = frozenset({"threats", "diagrams", "documents", "assets", "notes", "repositories"})


def _pairs(items: Iterable[Metadata | Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [
        item.model_dump(include={"key", "value"})
        if isinstance(item, Metadata)
        else {"key": item["key"], "value": item["value"]}
        for item in items
    ]


class MetadataResource(Resource):
    @staticmethod
    def _base(threat_model_id: str, kind: str | None, item_id: str | None) -> str:
        base = f"/threat_models/{threat_model_id}"
        if kind is None and item_id is None:
            return f"{base}/metadata"
        if kind not in KINDS or not item_id:
            raise ValueError(f"metadata of a child needs kind in {sorted(KINDS)} and item_id")
        return f"{base}/{kind}/{item_id}/metadata"

    @operation
    def list(
        self, threat_model_id: str, *, kind: str | None = None, item_id: str | None = None
    ) -> Flow[list[Metadata]]:
        return (yield Call("GET", self._base(threat_model_id, kind, item_id), as_model(list[Metadata])))

    @operation
    def get(
        self, threat_model_id: str, key: str, *, kind: str | None = None, item_id: str | None = None
    ) -> Flow[Metadata]:
        return (yield Call("GET", f"{self._base(threat_model_id, kind, item_id)}/{key}", as_model(Metadata)))

    @operation
    def create(
        self, threat_model_id: str, key: str, value: str, *, kind: str | None = None, item_id: str | None = None
    ) -> Flow[Metadata]:
        """POST; an existing key is a 409 Conflict at 1.8 and has its value replaced at 0.217."""
        return (
            yield Call(
                "POST",
                self._base(threat_model_id, kind, item_id),
                as_model(Metadata),
                json={"key": key, "value": value},
            )
        )

    @operation
    def set(
        self, threat_model_id: str, key: str, value: str, *, kind: str | None = None, item_id: str | None = None
    ) -> Flow[Metadata]:
        """The value of one key, made when it is not there yet. 1.8: PUT (both specs want the whole pair on
        assets and the value alone elsewhere); the real 1.8.22 answers a PUT of a new key 404, which is then
        made by POST. 0.217: POST, which replaces an existing key's value there (every PUT is 400)."""
        base = self._base(threat_model_id, kind, item_id)
        pair = {"key": key, "value": value}
        profile = yield from server_profile()
        if profile.metadata_post_upserts:
            return (yield Call("POST", base, as_model(Metadata), json=pair))
        body = pair if kind == "assets" else {"value": value}
        try:
            return (yield Call("PUT", f"{base}/{key}", as_model(Metadata), json=body))
        except NotFound:
            return (yield Call("POST", base, as_model(Metadata), json=pair))

    @operation
    def delete(
        self, threat_model_id: str, key: str, *, kind: str | None = None, item_id: str | None = None
    ) -> Flow[None]:
        return (yield Call("DELETE", f"{self._base(threat_model_id, kind, item_id)}/{key}", no_content))

    @operation
    def bulk_create(
        self,
        threat_model_id: str,
        items: Iterable[Metadata | Mapping[str, Any]],
        *,
        kind: str | None = None,
        item_id: str | None = None,
    ) -> Flow[list[Metadata]]:
        """POST .../metadata/bulk: add several keys."""
        return (
            yield Call(
                "POST",
                f"{self._base(threat_model_id, kind, item_id)}/bulk",
                as_model(list[Metadata]),
                json=_pairs(items),
            )
        )

    @operation
    def bulk_replace(
        self,
        threat_model_id: str,
        items: Iterable[Metadata | Mapping[str, Any]],
        *,
        kind: str | None = None,
        item_id: str | None = None,
    ) -> Flow[list[Metadata]]:
        """PUT .../metadata/bulk: the complete set of keys."""
        return (
            yield Call(
                "PUT",
                f"{self._base(threat_model_id, kind, item_id)}/bulk",
                as_model(list[Metadata]),
                json=_pairs(items),
            )
        )
