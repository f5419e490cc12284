"""The sandbox ASGI app: one generation of TMI, chosen by the config."""

from __future__ import annotations

import contextlib

from starlette.applications import Starlette
from starlette.middleware import Middleware

from portal.sandbox import account, collab, control, discovery, oauth, rest, seed, static_files, webhooks
from portal.sandbox.config import SandboxConfig
from portal.sandbox.faults import FaultBook, FaultMiddleware
from portal.sandbox.http_rules import RequestRules
from portal.sandbox.limits import RateLimits
from portal.sandbox.state import SandboxState


def create_app(config: SandboxConfig) -> Starlette:
    state = SandboxState(config)
    if config.seed:
        seed.load(state, config.seed)

    hooks = None if config.is_legacy else webhooks.Webhooks(state)  # 0.217's per-user webhooks are not played

    @contextlib.asynccontextmanager
    async def lifespan(app):
        workers = webhooks.running(hooks) if hooks else contextlib.nullcontext()
        async with collab.running(state), workers:
            yield

    faults = FaultBook()
    state.on_reset(faults.clear)
    routes = [
        *discovery.routes(state),
        *oauth.routes(state),
        *account.routes(state),
        *collab.routes(state),
        *rest.routes(state),
        *(webhooks.routes(hooks) if hooks else []),
        *control.routes(state, faults),
        *static_files.routes(state),
    ]
    # Outermost first: injected faults, the rate limits, then TMI's own request checks (406/404/405/415);
    # innermost, 1.8's webhook events after a threat model's write.
    middleware = [
        Middleware(FaultMiddleware, state=state, book=faults),
        Middleware(RateLimits, state=state),
        Middleware(RequestRules, state=state, routes=routes),
        *([Middleware(webhooks.WebhookEvents, hooks=hooks)] if hooks else []),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.sandbox = state
    app.state.faults = faults
    app.state.webhooks = hooks
    return app
