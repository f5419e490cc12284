"""The one place that imports httpx (and httpcore, under it), so the HTTP library could be swapped without
touching the client."""

from __future__ import annotations

import asyncio
import functools
import json
import math
import select
import ssl
import time
import typing
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpcore
import httpx

if typing.TYPE_CHECKING:
    from portal.tmi.addresses import AddressGuard
    from portal.tmi.gates import Budget, Gate

Auth = httpx.Auth
AsyncClient = httpx.AsyncClient
BaseTransport = httpx.BaseTransport
AsyncBaseTransport = httpx.AsyncBaseTransport
Client = httpx.Client
Request = httpx.Request
Response = httpx.Response
Timeout = httpx.Timeout
URL = httpx.URL

# Failures before a response arrived. ConnectError/ConnectTimeout mean the request never reached the
# server, so even a POST may be retried; other timeouts may have reached it.
TransportError = httpx.TransportError
TimeoutException = httpx.TimeoutException
ConnectError = httpx.ConnectError
ConnectTimeout = httpx.ConnectTimeout
PoolTimeout = httpx.PoolTimeout  # no connection (or gate place, gates.py) in time: nothing was sent


@functools.cache
def shared_tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every client. httpx builds (and loads the CA bundle into) a new
    one per client otherwise: about 800 KiB each, which a portal holding a client per live diagram
    session pays a thousand times over. A context is safe to share between clients and threads."""
    return httpx.create_ssl_context()


def limit_timeout(request: Request, timeout: Timeout, seconds: float) -> None:
    """Cut each of the request's timeouts (connect, write, each read, waiting for a pooled connection) to
    `seconds`, when the caller's deadline is nearer than the client's own timeout allows."""
    request.extensions["timeout"] = {
        phase: seconds if limit is None else min(limit, seconds) for phase, limit in timeout.as_dict().items()
    }


# Sent as `auth=` to turn the client's auth hook off for public endpoints (GET /, /oauth2/*).
NO_AUTH = None


def cookieless_jar() -> CookieJar:
    """A jar that keeps nothing. TMI 1.8 sets token cookies (PROTOCOL.md 3.5); a client shared by many
    users must never send one user's cookie on another's request, so it authenticates by header only."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


# -- the address guard on every connection (addresses.py) ----------------------------------------------
# httpx's own pool, built with a network backend that resolves each new connection's host once through
# the guard and opens the socket to the checked address. httpcore still knows the connection by its
# host name, so the Host header, TLS SNI and certificate verification all use the name, and a kept-alive
# connection is reused only for the same name. Environment proxies are never used: a proxy would
# resolve the name again itself (the client passes a transport, so httpx reads none).
_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)  # httpx's defaults


def _resolve_error(host: str, error: OSError) -> httpcore.ConnectError:
    # As httpcore reports a failed connect (httpx.ConnectError: nothing was sent, safe to retry).
    return httpcore.ConnectError(f"{host}: {error}")


class _GuardedBackend(httpcore.NetworkBackend):
    def __init__(self, guard: AddressGuard) -> None:
        self.guard = guard
        self.inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = self.guard.resolve(host, port)
        except OSError as error:
            raise _resolve_error(host, error) from error
        for address in addresses[:-1]:  # every one checked; the next is tried when one refuses, as httpcore does
            try:
                return self.inner.connect_tcp(str(address), port, timeout, local_address, socket_options)
            except httpcore.ConnectError:
                continue
        return self.inner.connect_tcp(str(addresses[-1]), port, timeout, local_address, socket_options)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: typing.Iterable[typing.Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("Unix sockets are not used for TMI")

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


def _readable(sock: typing.Any) -> bool:
    """httpcore's test of a kept-alive connection: data (or the end) waiting means the server has closed it."""
    fd = -1 if sock is None else sock.fileno()
    if fd < 0:
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


class _KnownSocketStream(httpcore.AsyncNetworkStream):
    """The anyio stream httpcore's backend gives, answering "is_readable" from a socket found once.

    httpcore's pool asks every connection it keeps whether the server has closed it before each request it
    sends, and anyio works out all of a socket's attributes (a getpeername call among them) for each
    question: a thousand browsers opening a diagram asked some 31,000 times, about 4% of daphne's work. A
    connection found open is not asked the kernel again for QUIET_SECONDS while it stays unused: each of the
    pool's requests asks about every idle connection, so in a burst each one was asked some twenty times
    within a few milliseconds. (A server that closes meanwhile is the race httpcore's own check has between
    asking and sending.)"""

    QUIET_SECONDS = 0.005

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self.inner = inner
        self.sock = inner.get_extra_info("socket")
        self.quiet_until = 0.0

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self.quiet_until = 0.0
        return await self.inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.quiet_until = 0.0
        await self.inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        return _KnownSocketStream(await self.inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "is_readable":
            now = time.monotonic()
            if now < self.quiet_until:
                return False
            readable = _readable(self.sock)
            if not readable:
                self.quiet_until = now + self.QUIET_SECONDS
            return readable
        return self.inner.get_extra_info(info)


class _AsyncGuardedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, guard: AddressGuard) -> None:
        self.guard = guard
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await self.guard.aresolve(host, port)
        except OSError as error:
            raise _resolve_error(host, error) from error
        for address in addresses[:-1]:
            try:
                return _KnownSocketStream(
                    await self.inner.connect_tcp(str(address), port, timeout, local_address, socket_options)
                )
            except httpcore.ConnectError:
                continue
        return _KnownSocketStream(
            await self.inner.connect_tcp(str(addresses[-1]), port, timeout, local_address, socket_options)
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: typing.Iterable[typing.Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("Unix sockets are not used for TMI")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def _check_url(guard: AddressGuard, url: httpx.URL) -> None:
    """Scheme and user-info, as httpx parsed them (the address itself is checked when connecting)."""
    guard.parts(url.scheme, url.host, url.port, userinfo=bool(url.userinfo))


def _gate_wait(request: httpx.Request) -> float | None:
    """How long a request may wait for a gate place: its pool timeout, as for a pooled connection."""
    return (request.extensions.get("timeout") or {}).get("pool")


def _gate_refused(request: httpx.Request, wait: float | None) -> httpx.PoolTimeout:
    return httpx.PoolTimeout(
        f"no free place at this TMI server within {wait} s: the portal's cap on calls at once", request=request
    )


class _ReleasingStream(httpx.SyncByteStream):
    """The response body; its gate place is given back when the body is closed (read or abandoned)."""

    def __init__(self, inner: typing.Any, held: typing.Any) -> None:
        self.inner, self.held = inner, held

    def __iter__(self) -> typing.Iterator[bytes]:
        yield from self.inner

    def close(self) -> None:
        try:
            self.inner.close()
        finally:
            self.held.__exit__(None, None, None)


class _AsyncReleasingStream(httpx.AsyncByteStream):
    def __init__(self, inner: typing.Any, held: typing.Any) -> None:
        self.inner, self.held = inner, held

    async def __aiter__(self) -> typing.AsyncIterator[bytes]:
        async for chunk in self.inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self.inner.aclose()
        finally:
            await self.held.__aexit__(None, None, None)


def _budget_refusal(request: httpx.Request, retry_after: float, kind: str) -> httpx.Response:
    """What a request a budget (gates.Budget) did not let out gets: TMI's own refusal, never sent."""
    seconds = max(1, math.ceil(retry_after))
    return httpx.Response(
        429,
        headers={"Retry-After": str(seconds), "Content-Type": "application/json", "X-Portal-Budget": kind},
        content=json.dumps(
            {
                "error": "rate_limit_exceeded",
                "error_description": f"The portal's {kind} budget for this TMI server is spent; retry later.",
            }
        ).encode(),
        request=request,
    )


def _budget_for(transport: typing.Any, request: httpx.Request) -> tuple[Budget | None, str]:
    """The auth-flow budget for the auth-flow paths, the REST budget (if the client has one) for the rest."""
    from portal.tmi.gates import is_auth_flow

    if is_auth_flow(request.url.path):
        return transport.budget, "auth-flow"
    return transport.rest_budget, "REST"


def _budget_heard(budget: Budget, response: httpx.Response) -> None:
    if response.status_code == 429 and "x-portal-budget" not in response.headers:
        from portal.tmi.errors import parse_retry_after

        budget.refused(parse_retry_after(response.headers.get("retry-after")))


class GuardedTransport(httpx.HTTPTransport):
    def __init__(
        self,
        guard: AddressGuard,
        gate: Gate | None = None,
        budget: Budget | None = None,
        rest_budget: Budget | None = None,
    ) -> None:
        context = shared_tls_context()
        super().__init__(verify=context, trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=_LIMITS.max_connections,
            max_keepalive_connections=_LIMITS.max_keepalive_connections,
            keepalive_expiry=_LIMITS.keepalive_expiry,
            network_backend=_GuardedBackend(guard),
        )
        self.guard = guard
        self.gate = gate
        self.budget = budget
        self.rest_budget = rest_budget

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        _check_url(self.guard, request.url)
        budget, kind = _budget_for(self, request)
        if budget is not None:
            # Before the gate place: a request never holds a place while it waits for the budget.
            short = budget.take(_gate_wait(request))
            if short is not None:
                return _budget_refusal(request, short, kind)
            response = self._gated(request)
            _budget_heard(budget, response)
            return response
        return self._gated(request)

    def _gated(self, request: httpx.Request) -> httpx.Response:
        if self.gate is None:
            return super().handle_request(request)
        wait = _gate_wait(request)
        held = self.gate.hold(wait)
        try:
            held.__enter__()
        except TimeoutError as error:
            raise _gate_refused(request, wait) from error
        try:
            response = super().handle_request(request)
        except BaseException:
            held.__exit__(None, None, None)
            raise
        response.stream = _ReleasingStream(response.stream, held)
        return response


def _pool_new(guard: AddressGuard, *, shared: bool = False) -> httpcore.AsyncConnectionPool:
    return httpcore.AsyncConnectionPool(
        ssl_context=shared_tls_context(),
        # Shared by every organisation's clients: a cap of its own would let one slow TMI server hold every
        # connection. Each server's gate caps the calls to it instead.
        max_connections=None if shared else _LIMITS.max_connections,
        max_keepalive_connections=_LIMITS.max_keepalive_connections,
        keepalive_expiry=_LIMITS.keepalive_expiry,
        network_backend=_AsyncGuardedBackend(guard),
    )


_LOOP_POOLS = "_portal_tmi_pools"


def loop_pool(guard: AddressGuard) -> httpcore.AsyncConnectionPool | None:
    """The running event loop's pool for clients under `guard`'s rules; None on a loop that keeps no attributes.

    Kept on the loop itself, so it goes with the loop (a registry of loops would keep each one alive through
    its own connections). Clients of different members and organisations may share a connection: a request
    carries its own Authorization header, and no client keeps cookies (`cookieless_jar`)."""
    loop = asyncio.get_running_loop()
    pools = getattr(loop, _LOOP_POOLS, None)
    if pools is None:
        pools = {}
        try:
            setattr(loop, _LOOP_POOLS, pools)
        except AttributeError:
            return None
    key = (guard.public, guard.entries, guard.resolver)
    pool = pools.get(key)
    if pool is None:
        pool = pools[key] = _pool_new(guard, shared=True)
    return pool


class AsyncGuardedTransport(httpx.AsyncHTTPTransport):
    """The async twin, whose clients share their connections: one pool per event loop and set of guard rules
    (`loop_pool`), so a client made for one page view or one live socket reuses a connection another
    left open instead of opening its own. A thousand browsers opening a diagram opened and closed a
    thousand connections to TMI, about 0.65 ms of the portal's CPU each."""

    def __init__(
        self,
        guard: AddressGuard,
        gate: Gate | None = None,
        budget: Budget | None = None,
        rest_budget: Budget | None = None,
    ) -> None:
        # httpx's own __init__ would only build a pool of its own, unused.
        self.guard = guard
        self.gate = gate
        self.budget = budget
        self.rest_budget = rest_budget
        self._pool: httpcore.AsyncConnectionPool | None = None  # the running loop's, from the first request on
        self._private = False  # a pool of its own, on an event loop that keeps no attributes

    def _pool_now(self) -> httpcore.AsyncConnectionPool:
        if not self._private:
            self._pool = loop_pool(self.guard)
            if self._pool is None:
                self._private, self._pool = True, _pool_new(self.guard)
        return self._pool

    async def idle_close(self) -> None:
        """Close a private pool's kept-alive connections, unless a request is using or opening one. (A loop's
        shared connections are no client's to close: an idle one goes after _LIMITS.keepalive_expiry.)"""
        if not self._private or self._pool is None:
            return
        if any(not connection.is_idle() for connection in self._pool.connections):
            return
        pool, self._pool = self._pool, _pool_new(self.guard)
        await pool.aclose()

    async def aclose(self) -> None:
        if self._private and self._pool is not None:
            await self._pool.aclose()

    async def __aenter__(self) -> AsyncGuardedTransport:
        return self

    async def __aexit__(self, *exc: typing.Any) -> None:
        await self.aclose()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        _check_url(self.guard, request.url)
        budget, kind = _budget_for(self, request)
        if budget is not None:
            short = await budget.atake(_gate_wait(request))
            if short is not None:
                return _budget_refusal(request, short, kind)
            response = await self._gated(request)
            _budget_heard(budget, response)
            return response
        return await self._gated(request)

    async def _gated(self, request: httpx.Request) -> httpx.Response:
        self._pool_now()
        if self.gate is None:
            return await super().handle_async_request(request)
        wait = _gate_wait(request)
        held = self.gate.ahold(wait)
        try:
            await held.__aenter__()
        except TimeoutError as error:
            raise _gate_refused(request, wait) from error
        try:
            response = await super().handle_async_request(request)
        except BaseException:
            await held.__aexit__(None, None, None)
            raise
        response.stream = _AsyncReleasingStream(response.stream, held)
        return response
