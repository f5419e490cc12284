"""`TMIClient` and `AsyncTMIClient`: the same resources over a blocking or an asyncio executor.

client = TMIClient("http://tmi.example", auth=token_pair, on_refresh=store)
for tm in client.threat_models.iter(status="in_progress"):
    ...

# A page that must answer within 10 s, whatever TMI does: no attempt starts after the deadline,
# each one's timeout is cut to the time left, a timed-out request is not sent again, and a
# Retry-After longer than the time left is raised at once (RateLimited.retry_after).
client = TMIClient(url, auth=token_pair, deadline=time.monotonic() + 10)
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from portal.tmi import _http
from portal.tmi.addresses import AddressGuard
from portal.tmi.calls import Call, as_model, single
from portal.tmi.gates import Budget, Gate
from portal.tmi.models import ServerConfig, ServerInfo, TokenPair
from portal.tmi.resources.auth import Auth
from portal.tmi.resources.collaboration import Collaboration
from portal.tmi.resources.entities import Assets, Diagrams, Documents, Notes, Repositories, ThreatModels, Threats
from portal.tmi.resources.metadata import MetadataResource
from portal.tmi.retry import RetryPolicy
from portal.tmi.runners import AsyncRunner, SyncRunner
from portal.tmi.token_auth import OnRefresh, TokenAuth

DEFAULT_TIMEOUT = 30.0
AuthArg = TokenPair | TokenAuth | str | _http.Auth | None


class BaseClient:
    """What both clients share: the auth hook, the retry policy and the resources."""

    _runner: Any

    def __init__(
        self,
        base_url: str,
        *,
        auth: AuthArg,
        max_retries: int,
        retry_policy: RetryPolicy | None,
        on_refresh: OnRefresh | None,
        refresh_skew: float,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry_policy = retry_policy or RetryPolicy(max_retries=max_retries)
        self.token_auth = self._auth_hook(auth, on_refresh, refresh_skew)

    def _auth_hook(self, auth: AuthArg, on_refresh: OnRefresh | None, skew: float) -> _http.Auth | None:
        if isinstance(auth, str):
            auth = TokenPair(access_token=auth, expires_in=10**9)  # a bare token never refreshes
        if isinstance(auth, TokenPair):
            auth = TokenAuth(auth, on_refresh=on_refresh, skew=skew)
        if isinstance(auth, TokenAuth) and auth.refresher is None:
            # By default the hook refreshes through this client; an application may inject its own.
            auth.refresher = lambda pair: self.auth.refresh(pair.refresh_token)
        return auth

    # Made on first use: a client held by each live diagram session uses two of the ten.
    auth = functools.cached_property(Auth)
    threat_models = functools.cached_property(ThreatModels)
    threats = functools.cached_property(Threats)
    diagrams = functools.cached_property(Diagrams)
    documents = functools.cached_property(Documents)
    assets = functools.cached_property(Assets)
    notes = functools.cached_property(Notes)
    repositories = functools.cached_property(Repositories)
    metadata = functools.cached_property(MetadataResource)
    collaboration = functools.cached_property(Collaboration)

    @property
    def tokens(self) -> TokenPair | None:
        """The current token pair (it changes when the auth hook refreshes)."""
        return self.token_auth.tokens if isinstance(self.token_auth, TokenAuth) else None

    @property
    def deadline(self) -> float | None:
        """When this client stops waiting for TMI: a time on `retry_policy.clock` (time.monotonic by
        default), or None. May be set between calls, e.g. to give one call a budget of its own."""
        return self._runner.deadline

    @deadline.setter
    def deadline(self, value: float | None) -> None:
        self._runner.deadline = value

    @property
    def server(self) -> ServerInfo | None:
        """The generation in use, once known (given, or learnt from GET /)."""
        return self._runner.server

    def discovery(self) -> Any:
        """GET /: the server's version, build, status and generation, asked now (a connection check)."""
        return self._runner.discover()

    def server_info(self) -> Any:
        """The server as this client knows it (its generation given, hinted or learnt from an earlier GET /);
        GET / only when nothing is known. What pages use: a real GET / is slow and 0.217 rate-limits it."""
        return self._runner.known()

    def config(self) -> Any:
        """GET /config (1.8 only: callers ask `GenerationProfile.has_config` first; the real 0.217.8 answers an
        anonymous request for it 401, as for any path it does not know, so that answer is no sign-in problem)."""
        return self._runner.run(single(Call("GET", "/config", as_model(ServerConfig), authenticated=False)))


def _http_options(
    base_url: str,
    timeout: float | _http.Timeout,
    event_hooks: Mapping[str, list[Callable]] | None,
    transport: Any,
    address_guard: AddressGuard | None = None,
    guarded: type[_http.GuardedTransport] | type[_http.AsyncGuardedTransport] = _http.GuardedTransport,
    gate: Gate | None = None,
    budget: Budget | None = None,
    rest_budget: Budget | None = None,
) -> dict[str, Any]:
    options: dict[str, Any] = {
        "base_url": base_url,
        "timeout": timeout,
        "follow_redirects": False,
        "cookies": _http.cookieless_jar(),
        "verify": _http.shared_tls_context(),
        "headers": {"User-Agent": "tmi-portal-client/0.1"},
    }
    if event_hooks:
        options["event_hooks"] = {k: list(v) for k, v in event_hooks.items()}
    if address_guard is not None:
        if transport is not None:  # the guard lives in the client's own transport; it cannot wrap another
            raise TypeError("address_guard and transport cannot be combined")
        transport = guarded(address_guard, gate, budget, rest_budget)
        options["trust_env"] = False  # no proxies or netrc from the environment: see _http.GuardedTransport
    elif gate is not None or budget is not None or rest_budget is not None:
        raise TypeError("a gate or budget lives in the client's guarded transport: give an address_guard too")
    if transport is not None:
        options["transport"] = transport
    return options


class TMIClient(BaseClient):
    def __init__(
        self,
        base_url: str,
        *,
        auth: AuthArg = None,
        timeout: float | _http.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        transport: _http.BaseTransport | None = None,
        event_hooks: Mapping[str, list[Callable]] | None = None,
        generation: str | None = None,
        generation_hint: str | None = None,
        on_discovery: Callable[[ServerInfo], None] | None = None,
        on_refresh: OnRefresh | None = None,
        refresh_skew: float = 60.0,
        retry_policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
        deadline: float | None = None,
        address_guard: AddressGuard | None = None,
        gate: Gate | None = None,
        budget: Budget | None = None,
        rest_budget: Budget | None = None,
    ) -> None:
        super().__init__(
            base_url,
            auth=auth,
            max_retries=max_retries,
            retry_policy=retry_policy,
            on_refresh=on_refresh,
            refresh_skew=refresh_skew,
        )
        self.address_guard = address_guard  # None: any server (see addresses.py)
        self.http = _http.Client(
            **_http_options(
                self.base_url,
                timeout,
                event_hooks,
                transport,
                address_guard,
                gate=gate,
                budget=budget,
                rest_budget=rest_budget,
            )
        )
        extra = {"sleep": sleep} if sleep is not None else {}
        self._runner = SyncRunner(
            self.http,
            auth=self.token_auth,
            retry=self.retry_policy,
            generation=generation,
            generation_hint=generation_hint,
            on_discovery=on_discovery,
            deadline=deadline,
            **extra,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> TMIClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class AsyncTMIClient(BaseClient):
    def __init__(
        self,
        base_url: str,
        *,
        auth: AuthArg = None,
        timeout: float | _http.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        transport: _http.AsyncBaseTransport | None = None,
        event_hooks: Mapping[str, list[Callable]] | None = None,
        generation: str | None = None,
        generation_hint: str | None = None,
        on_discovery: Callable[[ServerInfo], None] | None = None,
        on_refresh: OnRefresh | None = None,
        refresh_skew: float = 60.0,
        retry_policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        deadline: float | None = None,
        address_guard: AddressGuard | None = None,
        gate: Gate | None = None,
        budget: Budget | None = None,
        rest_budget: Budget | None = None,
    ) -> None:
        super().__init__(
            base_url,
            auth=auth,
            max_retries=max_retries,
            retry_policy=retry_policy,
            on_refresh=on_refresh,
            refresh_skew=refresh_skew,
        )
        self.address_guard = address_guard  # the collaboration socket obeys it too (collab/connect.py)
        options = _http_options(
            self.base_url,
            timeout,
            event_hooks,
            transport,
            address_guard,
            _http.AsyncGuardedTransport,
            gate=gate,
            budget=budget,
            rest_budget=rest_budget,
        )
        self.http = _http.AsyncClient(**options)
        self._transport = options.get("transport")
        extra = {"sleep": sleep} if sleep is not None else {}
        self._runner = AsyncRunner(
            self.http,
            auth=self.token_auth,
            retry=self.retry_policy,
            generation=generation,
            generation_hint=generation_hint,
            on_discovery=on_discovery,
            deadline=deadline,
            **extra,
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def idle_close(self) -> None:
        """Close the client's own kept-alive connections to TMI while no request uses them: a client held for
        hours that calls TMI now and then (a live diagram's) would keep one open, about 8 KiB each, all along.
        Clients on an event loop share its connections instead (_http.loop_pool), and have none of their own."""
        if isinstance(self._transport, _http.AsyncGuardedTransport):
            await self._transport.idle_close()

    async def __aenter__(self) -> AsyncTMIClient:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()
