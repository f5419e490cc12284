"""Collect contract violations from everything a test sends and receives, HTTP and WebSocket alike."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace

import httpx

from portal.conformance.contract.asyncapi import asyncapi_contract
from portal.conformance.contract.deviations import DEVIATIONS, Deviation
from portal.conformance.contract.openapi import openapi_contract
from portal.conformance.contract.violations import Channel, Violation, ViolationPattern, describe


class ContractRecorder:
    def __init__(self, generation: str) -> None:
        self.generation = generation
        self.openapi = openapi_contract(generation)
        self.asyncapi = asyncapi_contract(generation)
        self.violations: list[Violation] = []
        self.covered: Counter[str] = Counter()  # "GET /threat_models -> 200", "ws-receive participants_update"
        self._scopes: list[list[Violation]] = []
        self._exchanges = 0

    def record_exchange(self, request: httpx.Request, response: httpx.Response) -> list[Violation]:
        operation = self.openapi.operation_of(request.method, str(request.url.copy_with(query=None)))
        self.covered[f"{operation or request.method + ' ' + request.url.path} -> {response.status_code}"] += 1
        return self._record(self._numbered(self.openapi.check(request, response)))

    def record_frame(self, channel: Channel, frame: str | bytes) -> list[Violation]:
        found = self.asyncapi.check(channel, frame)
        self.covered[f"{channel} {_message_type(frame)}"] += 1
        return self._record(self._numbered(found))

    def _numbered(self, found: list[Violation]) -> list[Violation]:
        self._exchanges += 1
        return [replace(violation, exchange=self._exchanges) for violation in found]

    def _record(self, found: list[Violation]) -> list[Violation]:
        (self._scopes[-1] if self._scopes else self.violations).extend(found)
        return found

    @contextlib.contextmanager
    def expect_violation(self, pattern: ViolationPattern) -> Iterator[list[Violation]]:
        """For a deliberately wrong request or frame: inside the block, at least one violation must match
        `pattern`; the matching ones are the point of the test, any others are kept as unexpected."""
        scope: list[Violation] = []
        self._scopes.append(scope)
        try:
            yield scope
        finally:
            self._scopes.pop()
        expected = [violation for violation in scope if pattern.matches(violation)]
        self._record([violation for violation in scope if not pattern.matches(violation)])
        assert expected, f"expected a violation like {pattern}, got:\n{describe(scope) or '  (none)'}"

    def deviation_of(self, violation: Violation) -> Deviation | None:
        siblings = [other for other in self.violations if other.exchange == violation.exchange]
        return next((deviation for deviation in DEVIATIONS if deviation.excuses(violation, siblings)), None)

    def unexpected(self) -> list[Violation]:
        return [violation for violation in self.violations if self.deviation_of(violation) is None]

    def accepted(self) -> Counter[str]:
        """How often each deviation of the table excused a violation."""
        return Counter(
            deviation.id for violation in self.violations if (deviation := self.deviation_of(violation)) is not None
        )


def _message_type(frame: str | bytes) -> str:
    try:
        return str(json.loads(frame).get("message_type"))
    except (ValueError, AttributeError):
        return "?"


class ValidatingTransport(httpx.BaseTransport):
    """An httpx transport that checks every exchange against the generation's OpenAPI document."""

    def __init__(self, recorder: ContractRecorder, inner: httpx.BaseTransport | None = None) -> None:
        self.recorder = recorder
        self._inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        response = self._inner.handle_request(request)
        try:
            body = response.read()
        finally:
            response.close()
        return _checked(self.recorder, request, response, body)

    def close(self) -> None:
        self._inner.close()


class AsyncValidatingTransport(httpx.AsyncBaseTransport):
    def __init__(self, recorder: ContractRecorder, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.recorder = recorder
        self._inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        response = await self._inner.handle_async_request(request)
        try:
            body = await response.aread()
        finally:
            await response.aclose()
        return _checked(self.recorder, request, response, body)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _checked(
    recorder: ContractRecorder, request: httpx.Request, response: httpx.Response, body: bytes
) -> httpx.Response:
    """Record the exchange, then hand the caller a fresh response with the same (already decoded) body."""
    # The body is decoded now, so the caller must not decode it again nor trust the encoded length.
    headers = [
        (name, value)
        for name, value in response.headers.multi_items()
        if name.lower() not in ("content-encoding", "content-length")
    ]
    replayed = httpx.Response(
        response.status_code, headers=headers, content=body, extensions=response.extensions, request=request
    )
    recorder.record_exchange(request, replayed)
    return replayed
