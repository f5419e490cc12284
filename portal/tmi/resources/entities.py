"""Threat models and their children: list (one page), iter (all pages), get, create, update (PUT),
patch (JSON Patch), delete. Each is written once, for both generations (PROTOCOL.md 5 and 9.3)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from portal.tmi import _http
from portal.tmi.calls import (
    JSON_PATCH,
    Call,
    Flow,
    as_model,
    as_page,
    json_body,
    no_content,
    server_profile,
    with_version,
)
from portal.tmi.cells import cells_to_wire
from portal.tmi.generations import GenerationProfile, threat_input
from portal.tmi.models import Asset, Diagram, Document, Note, Repository, Threat, ThreatModel, TMIModel, TMListItem
from portal.tmi.pagination import MAX_LIMIT, Page
from portal.tmi.resources.base import Resource, operation

DEFAULT_LIMIT = 20
IfMatch = int | str | None


def _merge(body: Mapping[str, Any] | None, fields: Mapping[str, Any]) -> dict[str, Any]:
    return {**(body or {}), **fields}


class _Collection(Resource):
    """The shared request building of one TMI collection."""

    model: type[TMIModel]
    list_model: type[TMIModel]
    items_key: str

    def _to_wire(self, profile: GenerationProfile, body: dict[str, Any]) -> dict[str, Any]:
        """The body in the server generation's shape; most collections send it as given."""
        return body

    def _list(self, base: str, limit: int, offset: int, filters: Mapping[str, Any]) -> Flow[Page[Any]]:
        params = {**self._filters(filters), "limit": limit, "offset": offset}
        return (
            yield Call("GET", base, as_page(self.list_model, self.items_key, limit=limit, offset=offset), params=params)
        )

    def _filters(self, filters: Mapping[str, Any]) -> dict[str, Any]:
        return dict(filters)

    def _get(self, path: str) -> Flow[Any]:
        return (yield Call("GET", path, as_model(self.model)))

    def _create(self, base: str, body: dict[str, Any]) -> Flow[Any]:
        profile = yield from server_profile()
        return (yield Call("POST", base, with_version(self._created_parser()), json=self._to_wire(profile, body)))

    def _created_parser(self) -> Callable[[_http.Response], Any]:
        return as_model(self.model)

    def _update(self, path: str, body: dict[str, Any], if_match: IfMatch) -> Flow[Any]:
        profile = yield from server_profile()
        return (
            yield Call(
                "PUT",
                path,
                with_version(as_model(self.model)),
                json=self._to_wire(profile, body),
                headers=_if_match(profile, if_match),
            )
        )

    def _patch(self, path: str, ops: Iterable[Mapping[str, Any]], if_match: IfMatch) -> Flow[Any]:
        profile = yield from server_profile()
        return (
            yield Call(
                "PATCH",
                path,
                with_version(as_model(self.model)),
                json=[dict(op) for op in ops],
                content_type=JSON_PATCH,
                headers=_if_match(profile, if_match),
            )
        )

    def _delete(self, path: str) -> Flow[None]:
        return (yield Call("DELETE", path, no_content))


def _if_match(profile: GenerationProfile, if_match: IfMatch) -> dict[str, str]:
    # 0.217 has no optimistic locking (PROTOCOL.md 9.3): the header would be ignored, so it is not sent.
    if if_match is None or not profile.optimistic_locking:
        return {}
    return {"If-Match": str(if_match)}


class ThreatModels(_Collection):
    model = ThreatModel
    list_model = TMListItem
    items_key = "threat_models"
    base = "/threat_models"

    def _filters(self, filters: Mapping[str, Any]) -> dict[str, Any]:
        # `status` is one comma-separated parameter (PROTOCOL.md 5.2). 0.217 ignores all filters.
        status = filters.get("status")
        if isinstance(status, (list, tuple)):
            return {**filters, "status": ",".join(status)}
        return dict(filters)

    @operation
    def list(self, *, limit: int = DEFAULT_LIMIT, offset: int = 0, **filters: Any) -> Flow[Page[TMListItem]]:
        """One page. Filters: name, description, owner, status, issue_uri, created_after/_before, ..."""
        return (yield from self._list(self.base, limit, offset, filters))

    def iter(self, *, page_size: int = MAX_LIMIT, **filters: Any) -> Any:
        """Every threat model, across pages (an async iterator on the async client)."""
        return self._runner.paginate(lambda offset: self._list(self.base, page_size, offset, filters))

    aiter = iter

    @operation
    def get(self, threat_model_id: str) -> Flow[ThreatModel]:
        return (yield from self._get(f"{self.base}/{threat_model_id}"))

    @operation
    def create(self, body: Mapping[str, Any] | None = None, **fields: Any) -> Flow[ThreatModel]:
        return (yield from self._create(self.base, _merge(body, fields)))

    @operation
    def update(
        self, threat_model_id: str, body: Mapping[str, Any] | None = None, *, if_match: IfMatch = None, **fields: Any
    ) -> Flow[ThreatModel]:
        return (yield from self._update(f"{self.base}/{threat_model_id}", _merge(body, fields), if_match))

    @operation
    def patch(
        self, threat_model_id: str, ops: Iterable[Mapping[str, Any]], *, if_match: IfMatch = None
    ) -> Flow[ThreatModel]:
        return (yield from self._patch(f"{self.base}/{threat_model_id}", ops, if_match))

    @operation
    def delete(self, threat_model_id: str) -> Flow[None]:
        return (yield from self._delete(f"{self.base}/{threat_model_id}"))


class _Child(_Collection):
    """A collection under a threat model: /threat_models/{tm}/<items_key>."""

    def _base(self, threat_model_id: str) -> str:
        return f"/threat_models/{threat_model_id}/{self.items_key}"

    @operation
    def list(
        self, threat_model_id: str, *, limit: int = DEFAULT_LIMIT, offset: int = 0, **filters: Any
    ) -> Flow[Page[Any]]:
        return (yield from self._list(self._base(threat_model_id), limit, offset, filters))

    def iter(self, threat_model_id: str, *, page_size: int = MAX_LIMIT, **filters: Any) -> Any:
        base = self._base(threat_model_id)
        return self._runner.paginate(lambda offset: self._list(base, page_size, offset, filters))

    aiter = iter

    @operation
    def get(self, threat_model_id: str, item_id: str) -> Flow[Any]:
        return (yield from self._get(f"{self._base(threat_model_id)}/{item_id}"))

    @operation
    def create(self, threat_model_id: str, body: Mapping[str, Any] | None = None, **fields: Any) -> Flow[Any]:
        return (yield from self._create(self._base(threat_model_id), _merge(body, fields)))

    @operation
    def update(
        self,
        threat_model_id: str,
        item_id: str,
        body: Mapping[str, Any] | None = None,
        *,
        if_match: IfMatch = None,
        **fields: Any,
    ) -> Flow[Any]:
        return (yield from self._update(f"{self._base(threat_model_id)}/{item_id}", _merge(body, fields), if_match))

    @operation
    def patch(
        self, threat_model_id: str, item_id: str, ops: Iterable[Mapping[str, Any]], *, if_match: IfMatch = None
    ) -> Flow[Any]:
        return (yield from self._patch(f"{self._base(threat_model_id)}/{item_id}", ops, if_match))

    @operation
    def delete(self, threat_model_id: str, item_id: str) -> Flow[None]:
        return (yield from self._delete(f"{self._base(threat_model_id)}/{item_id}"))


class Threats(_Child):
    model = list_model = Threat
    items_key = "threats"

    def _to_wire(self, profile: GenerationProfile, body: dict[str, Any]) -> dict[str, Any]:
        return threat_input(profile, body)


class Diagrams(_Child):
    """Diagrams are created empty (`{name, type}` only, PROTOCOL.md 10.5); cells go in by PUT at 1.8 and by JSON Patch at 0.217 (its PUT refuses them)."""

    model = list_model = Diagram
    items_key = "diagrams"

    def _to_wire(self, profile: GenerationProfile, body: dict[str, Any]) -> dict[str, Any]:
        wire = {"type": "DFD-1.0.0", **body}
        if "cells" in wire:
            wire["cells"] = cells_to_wire(wire["cells"], edge_shape=profile.edge_shape)
        return wire

    @operation
    def create(self, threat_model_id: str, name: str, *, type: str = "DFD-1.0.0") -> Flow[Diagram]:  # noqa: A002
        return (yield from self._create(self._base(threat_model_id), {"name": name, "type": type}))


class Documents(_Child):
    model = list_model = Document
    items_key = "documents"

    def _created_parser(self) -> Callable[[_http.Response], Any]:
        # With asynchronous content extraction on, 1.8 answers 202 `{document, job_id}` (PROTOCOL.md 5.5).
        def parse(response: _http.Response) -> Document:
            body = json_body(response)
            if response.status_code == 202 and isinstance(body, dict) and "document" in body:
                body = body["document"]
            return Document.model_validate(body)

        return parse


class Assets(_Child):
    model = list_model = Asset
    items_key = "assets"


class Notes(_Child):
    model = list_model = Note
    items_key = "notes"


class Repositories(_Child):
    model = list_model = Repository
    items_key = "repositories"
