"""Requests as data: each endpoint is written once as a *flow*, a generator that yields `Call`s (or asks
for the server's generation) and returns the result. The sync and async runners drive the same flows;
only the executor differs (runners.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter, ValidationError

from portal.tmi import _http
from portal.tmi.errors import MalformedResponse, status_error
from portal.tmi.generations import GenerationProfile, list_items, profile_for
from portal.tmi.pagination import Page
from portal.tmi.retry import RetryMode

T = TypeVar("T")

JSON_PATCH = "application/json-patch+json"


class _NoBody:
    def __repr__(self) -> str:
        return "NO_BODY"


NO_BODY: Any = _NoBody()


class NeedServer:
    """A flow step asking the runner for the server's `ServerInfo` (discovered once, then cached)."""


NEED_SERVER = NeedServer()


@dataclass
class Call(Generic[T]):
    """One HTTP exchange: what to send and how to read the answer."""

    method: str
    path: str
    parse: Callable[[_http.Response], T]
    params: Mapping[str, Any] | None = None
    json: Any = NO_BODY
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    authenticated: bool = True  # False for public endpoints: the auth hook stays out
    bearer: str | None = None  # an explicit access token instead of the auth hook
    retry: RetryMode | None = None  # default: from the method

    @property
    def retry_mode(self) -> RetryMode:
        return self.retry or RetryMode.for_method(self.method)

    def request_kwargs(self) -> dict[str, Any]:
        headers = {"Accept": "application/json", **self.headers}
        if self.bearer is not None:
            headers["Authorization"] = f"Bearer {self.bearer}"
        kwargs: dict[str, Any] = {"headers": headers}
        if self.params:
            kwargs["params"] = query_params(self.params)
        if self.json is not NO_BODY:
            headers["Content-Type"] = self.content_type
            kwargs["content"] = json.dumps(self.json).encode()
        return kwargs

    def interpret(self, response: _http.Response) -> T:
        """The parsed result, or the TMI error for an error status."""
        if response.status_code >= 400:
            raise status_error(response)
        try:
            return self.parse(response)
        except MalformedResponse:
            raise
        except (ValidationError, ValueError, TypeError, KeyError) as exc:
            raise malformed(response, _describe(exc)) from None


Step = Call[Any] | NeedServer
Flow = Generator[Step, Any, T]


def query_params(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Query pairs: None dropped, lists repeated (form style), booleans lowercase, datetimes RFC 3339."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if item is None:
                continue
            if isinstance(item, bool):
                item = "true" if item else "false"
            elif isinstance(item, datetime):
                item = item.isoformat().replace("+00:00", "Z")
            pairs.append((key, str(item)))
    return pairs


def malformed(response: _http.Response, reason: str) -> MalformedResponse:
    request = response.request
    return MalformedResponse(
        f"{request.method} {request.url} -> {response.status_code}: {reason}",
        status_code=response.status_code,
        method=request.method,
        url=str(request.url),
        body=response.text,
    )


def _describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        return f"unexpected response shape at {where}: {first['msg']} ({exc.error_count()} error(s))"
    return f"unexpected response: {exc}"


def json_body(response: _http.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise malformed(response, "response is not JSON") from None


def as_model(model: Any) -> Callable[[_http.Response], Any]:
    """A parser validating the JSON body as `model` (a pydantic model or any type, e.g. list[Metadata])."""
    adapter = TypeAdapter(model)
    return lambda response: adapter.validate_python(json_body(response))


def no_content(response: _http.Response) -> None:
    return None


def as_page(model: Any, items_key: str, *, limit: int, offset: int) -> Callable[[_http.Response], Page[Any]]:
    adapter = TypeAdapter(list[model])

    def parse(response: _http.Response) -> Page[Any]:
        items, total, got_limit, got_offset = list_items(json_body(response), items_key)
        return Page(
            items=adapter.validate_python(items),
            total=total,
            limit=got_limit or limit,
            offset=offset if got_offset is None else got_offset,
        )

    return parse


def server_profile() -> Flow[GenerationProfile]:
    """Inside a flow: `profile = yield from server_profile()`."""
    info = yield NEED_SERVER
    return profile_for(info.generation)


def single(call: Call[T]) -> Flow[T]:
    return (yield call)


def etag_version(etag: str | None) -> int | None:
    """The integer version in a 1.8 ETag: `"7"` or `W/"7"`."""
    if not etag:
        return None
    value = etag.strip().removeprefix("W/").strip('"')
    return int(value) if value.isdigit() else None


def with_version(parse: Callable[[_http.Response], T]) -> Callable[[_http.Response], T]:
    """A parser that also records the ETag's version on the returned entity (1.8 conditional writes)."""

    def parse_with_version(response: _http.Response) -> T:
        result = parse(response)
        version = etag_version(response.headers.get("etag"))
        if version is not None and hasattr(result, "version"):
            result.version = version  # type: ignore[attr-defined]
        return result

    return parse_with_version
