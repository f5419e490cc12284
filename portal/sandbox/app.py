"""The sandbox ASGI app: one generation of TMI, chosen by the config."""
from __future__ import annotations

import contextlib

from starlette.applications import Starlette

from portal.sandbox import collab, oauth, rest, seed
from portal.sandbox.config import SandboxConfig
from portal.sandbox.state import SandboxState


def create_app(config: SandboxConfig) -> Starlette:
    state = SandboxState(config)
    if config.seed:
        seed.load(state, config.seed)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        async with collab.running(state):
            yield

    app = Starlette(routes=[*oauth.routes(state), *collab.routes(state), *rest.routes(state)], lifespan=lifespan)
    app.state.sandbox = state
    return app
