"""The sandbox ASGI app: one generation of TMI, chosen by the config."""

from __future__ import annotations

import contextlib

from starlette.applications import Starlette
from starlette.middleware import Middleware

from portal.sandbox import account, collab, control, discovery, oauth, rest, seed, static_files
from portal.sandbox.config import SandboxConfig
from portal.sandbox.faults import FaultBook, FaultMiddleware
from portal.sandbox.http_rules import RequestRules
from portal.sandbox.state import SandboxState


def create_app(config: SandboxConfig) -> Starlette:
    state = SandboxState(config)
    if config.seed:
        seed.load(state, config.seed)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        async with collab.running(state):
            yield

    faults = FaultBook()
    state.on_reset(faults.clear)
    routes = [
        *discovery.routes(state),
        *oauth.routes(state),
        *account.routes(state),
        *collab.routes(state),
        *rest.routes(state),
        *control.routes(state, faults),
        *static_files.routes(state),
    ]
    # Outermost first: injected faults, then TMI's own request checks (406/404/405/415).
    middleware = [
        Middleware(FaultMiddleware, state=state, book=faults),
        Middleware(RequestRules, state=state, routes=routes),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.sandbox = state
    app.state.faults = faults
    return app
