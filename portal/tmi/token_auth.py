"""Bearer authentication that keeps its token pair fresh, as an httpx auth flow.

Refreshes shortly before expiry and once after a 401, then replays the request. TMI refresh tokens are
single use (PROTOCOL.md 3.6), so concurrent requests must refresh once: the refresh runs under a lock
and every waiter re-checks whether someone else already did it. The refresh itself is a callable, so an
application can route it through its own (cross-process) lock and store; `on_refresh` persists the new
pair. A refused refresh token surfaces as `RefreshFailed` (raised by the refresher).

A client-credentials pair has no refresh token; with `renews_without_refresh_token=True` the refresher
is still called (it simply asks for a new token with the client's secret).
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from typing import Any

from portal.tmi import _http
from portal.tmi.models import TokenPair

Refresher = Callable[[TokenPair], "TokenPair | Awaitable[TokenPair]"]
OnRefresh = Callable[[TokenPair], "None | Awaitable[None]"]


class TokenAuth(_http.Auth):
    def __init__(
        self,
        tokens: TokenPair,
        *,
        refresh: Refresher | None = None,
        on_refresh: OnRefresh | None = None,
        skew: float = 60.0,
        clock: Callable[[], float] = time.time,
        renews_without_refresh_token: bool = False,
    ) -> None:
        self.tokens = tokens
        self.renews_without_refresh_token = renews_without_refresh_token
        self.refresher = refresh  # the client fills in its own when None
        self.on_refresh = on_refresh
        self.skew = skew
        self.clock = clock
        self.refresh_count = 0
        self._lock = threading.Lock()
        self._async_lock: asyncio.Lock | None = None

    # -- httpx hooks ------------------------------------------------------------------------------------
    def sync_auth_flow(self, request: _http.Request) -> Generator[_http.Request, _http.Response, None]:
        token = self._token_sync(stale=None)
        response = yield self._authorize(request, token)
        if response.status_code == 401 and self._can_refresh():
            yield self._authorize(request, self._token_sync(stale=token))

    async def async_auth_flow(self, request: _http.Request) -> AsyncGenerator[_http.Request, _http.Response]:
        token = await self._token_async(stale=None)
        response = yield self._authorize(request, token)
        if response.status_code == 401 and self._can_refresh():
            yield self._authorize(request, await self._token_async(stale=token))

    # -- shared decisions -------------------------------------------------------------------------------
    @staticmethod
    def _authorize(request: _http.Request, token: str) -> _http.Request:
        request.headers["Authorization"] = f"Bearer {token}"
        return request

    def _can_refresh(self) -> bool:
        has_means = bool(self.tokens.refresh_token) or self.renews_without_refresh_token
        return has_means and self.refresher is not None

    def _must_refresh(self, stale: str | None) -> bool:
        """`stale` is the access token a 401 came back for; None means "check expiry"."""
        if not self._can_refresh():
            return False
        if stale is not None:
            return self.tokens.access_token == stale  # else another request refreshed meanwhile
        return self.tokens.expires_within(self.skew, now=self.clock())

    def _adopt(self, tokens: Any) -> Any:
        if not isinstance(tokens, TokenPair):
            raise TypeError(f"the refresher must return a TokenPair, not {type(tokens).__name__}")
        self.tokens = tokens
        self.refresh_count += 1
        return self.on_refresh(tokens) if self.on_refresh else None

    # -- the two executors ------------------------------------------------------------------------------
    def _token_sync(self, *, stale: str | None) -> str:
        if self._must_refresh(stale):
            with self._lock:
                if self._must_refresh(stale):
                    result = self.refresher(self.tokens)  # type: ignore[misc]
                    if inspect.isawaitable(result):
                        raise TypeError("a synchronous client needs a synchronous refresher")
                    self._adopt(result)
        return self.tokens.access_token

    async def _token_async(self, *, stale: str | None) -> str:
        if self._must_refresh(stale):
            if self._async_lock is None:
                self._async_lock = asyncio.Lock()
            async with self._async_lock:
                if self._must_refresh(stale):
                    result = self.refresher(self.tokens)  # type: ignore[misc]
                    persisted = self._adopt(await result if inspect.isawaitable(result) else result)
                    if inspect.isawaitable(persisted):
                        await persisted
        return self.tokens.access_token
