"""The executors. Running a flow (calls.py) is itself written once, as a program of two effects, "send
this request" and "sleep this long": it drives the flow, discovers the generation when asked (once), and
retries each `Call` as retry.py allows. `SyncRunner` and `AsyncRunner` only perform the effects, blocking
or awaiting.

A runner may have a deadline (a time on the retry policy's clock): no attempt starts after it, each
attempt's timeouts are cut to the time left, and retry.py decides with the time left in hand.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

from portal.tmi import _http
from portal.tmi.calls import NEED_SERVER, Call, Flow, T
from portal.tmi.errors import APIConnectionError, APITimeoutError, TMIError
from portal.tmi.failures import Failure, failure_of
from portal.tmi.generations import profile_for, server_info
from portal.tmi.models import ServerInfo
from portal.tmi.pagination import Page
from portal.tmi.retry import RetryPolicy

PageFlow = Callable[[int], Flow[Page[Any]]]


@dataclass
class Send:
    request: _http.Request
    auth: Any


@dataclass
class Sleep:
    seconds: float


Program = Generator[Send | Sleep, Any, T]


def discovery_call() -> Call[ServerInfo]:
    def parse(response: _http.Response) -> ServerInfo:
        body = response.json()
        if not isinstance(body, dict):
            raise TypeError("GET / did not return a JSON object")
        return server_info(body)

    return Call("GET", "/", parse, authenticated=False)


def _connection_error(exc: Exception, request: _http.Request) -> APIConnectionError:
    # A refused or timed-out connect never reached the server: even a POST may be retried.
    never_sent = isinstance(exc, (_http.ConnectError, _http.ConnectTimeout, _http.PoolTimeout))
    cls = APITimeoutError if isinstance(exc, _http.TimeoutException) else APIConnectionError
    return cls(
        f"{request.method} {request.url}: {type(exc).__name__}: {exc}",
        method=request.method,
        url=str(request.url),
        connected=not never_sent,
    )


def _deadline_passed(request: _http.Request) -> APITimeoutError:
    return APITimeoutError(
        f"{request.method} {request.url}: the deadline passed before it was sent",
        method=request.method,
        url=str(request.url),
        connected=False,
    )


# Failures that a call sent in the wrong generation's shape gets: an unknown route or method, or an answer
# of the other shape. A 404 is also just "not found", so a hinted client may ask GET / once for nothing.
HINT_DOUBTS = frozenset({Failure.NOT_FOUND, Failure.UNSUPPORTED, Failure.MALFORMED})


class _Runner:
    def __init__(
        self,
        http: Any,
        *,
        auth: _http.Auth | None,
        retry: RetryPolicy,
        generation: str | None,
        deadline: float | None = None,
        generation_hint: str | None = None,
        on_discovery: Callable[[ServerInfo], None] | None = None,
    ) -> None:
        self.http = http
        self.auth = auth
        self.retry = retry
        self.deadline = deadline  # on retry.clock; None: each attempt has the client's whole timeout
        self.on_discovery = on_discovery  # told each GET / answer (an application may remember it)
        # A generation given by the caller wins over discovery; otherwise GET / is asked once. A hint (what
        # an earlier client learnt) is used without asking, until an answer puts it in doubt (see _doubts).
        self.forced = generation is not None
        known = generation or generation_hint
        if known is not None:
            profile_for(known)  # a clear ValueError for an unknown generation
        self.hinted = generation is None and generation_hint is not None
        self.server: ServerInfo | None = ServerInfo(generation=known) if known else None  # type: ignore[arg-type]

    # -- the shared program --------------------------------------------------------------------------
    def _program(self, flow: Flow[T]) -> Program[T]:
        value: Any = None
        error: TMIError | None = None
        while True:
            try:
                step = flow.throw(error) if error is not None else flow.send(value)
            except StopIteration as stop:
                return stop.value
            value, error = None, None
            try:
                if step is NEED_SERVER:
                    value = self.server or (yield from self._discover())
                else:
                    value = yield from self._call(step)  # type: ignore[arg-type]
            except TMIError as exc:
                error = exc  # the flow may handle it (e.g. a 404 that means "no session")
                if self.hinted and failure_of(exc) in HINT_DOUBTS:
                    yield from self._check_hint()

    def _check_hint(self) -> Program[None]:
        """The hinted generation may be stale (the server was upgraded or replaced at the same address): ask
        GET / once. The failing call still fails; the next ones use (and the hook is told) the real answer."""
        self.hinted = False
        try:
            yield from self._discover()
        except TMIError:
            pass  # GET / failing too says nothing about the generation; the call's own error stands

    def _known(self) -> Program[ServerInfo]:
        if self.server is not None:
            return self.server
        return (yield from self._discover())

    def _discover(self) -> Program[ServerInfo]:
        info = yield from self._call(discovery_call())
        if not self.forced:
            self.server = info
            self.hinted = False
            if self.on_discovery is not None:
                self.on_discovery(info)
        return info

    def _call(self, call: Call[T]) -> Program[T]:
        request = self.http.build_request(call.method, call.path, **call.request_kwargs())
        auth = self.auth if call.authenticated and call.bearer is None else _http.NO_AUTH
        attempt = 0
        while True:
            left = self.retry.remaining(self.deadline)
            if left is not None:
                if left <= 0:
                    raise _deadline_passed(request)
                _http.limit_timeout(request, self.http.timeout, left)
            response: _http.Response | None = None
            error: APIConnectionError | None = None
            try:
                response = yield Send(request, auth)
            except _http.TransportError as exc:
                error = _connection_error(exc, request)
            left = self.retry.remaining(self.deadline)
            if response is not None:
                delay = self.retry.delay(
                    call.retry_mode, attempt, status=response.status_code, headers=response.headers, remaining=left
                )
            else:
                delay = self.retry.delay(call.retry_mode, attempt, error=error, remaining=left)
            if delay is None:
                if error is not None:
                    raise error
                return call.interpret(response)  # type: ignore[arg-type]
            yield Sleep(delay)
            attempt += 1

    @staticmethod
    def _step(program: Program[T], result: Any, failure: Exception | None) -> tuple[bool, Any]:
        """Resume the program with the last effect's result: (True, final value) or (False, next effect)."""
        try:
            return False, program.throw(failure) if failure is not None else program.send(result)
        except StopIteration as stop:
            return True, stop.value


class SyncRunner(_Runner):
    def __init__(self, http: _http.Client, *, sleep: Callable[[float], None] = time.sleep, **kwargs: Any) -> None:
        super().__init__(http, **kwargs)
        self.sleep = sleep

    def run(self, flow: Flow[T]) -> T:
        return self._execute(self._program(flow))

    def discover(self) -> ServerInfo:
        return self._execute(self._discover())

    def known(self) -> ServerInfo:
        return self._execute(self._known())

    def _execute(self, program: Program[T]) -> T:
        result, failure = None, None
        while True:
            done, effect = self._step(program, result, failure)
            if done:
                return effect
            result, failure = None, None
            try:
                result = (
                    self.sleep(effect.seconds)
                    if isinstance(effect, Sleep)
                    else self.http.send(effect.request, auth=effect.auth)
                )
            except Exception as exc:  # handed to the program, which decides
                failure = exc

    def paginate(self, page_flow: PageFlow) -> Iterator[Any]:
        offset = 0
        while True:
            page = self.run(page_flow(offset))
            yield from page.items
            if not page.has_next:
                return
            offset = page.next_offset


class AsyncRunner(_Runner):
    def __init__(
        self, http: _http.AsyncClient, *, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, **kwargs: Any
    ) -> None:
        super().__init__(http, **kwargs)
        self.sleep = sleep

    async def run(self, flow: Flow[T]) -> T:
        return await self._execute(self._program(flow))

    async def discover(self) -> ServerInfo:
        return await self._execute(self._discover())

    async def known(self) -> ServerInfo:
        return await self._execute(self._known())

    async def _execute(self, program: Program[T]) -> T:
        result, failure = None, None
        while True:
            done, effect = self._step(program, result, failure)
            if done:
                return effect
            result, failure = None, None
            try:
                result = await (
                    self.sleep(effect.seconds)
                    if isinstance(effect, Sleep)
                    else self.http.send(effect.request, auth=effect.auth)
                )
            except Exception as exc:  # handed to the program, which decides
                failure = exc

    async def paginate(self, page_flow: PageFlow) -> AsyncIterator[Any]:
        offset = 0
        while True:
            page = await self.run(page_flow(offset))
            for item in page.items:
                yield item
            if not page.has_next:
                return
            offset = page.next_offset
