"""Fixtures shared by every test: running TMI sandboxes, one per generation."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from portal.sandbox.config import GENERATIONS, SandboxConfig
from portal.sandbox.server import SandboxServer


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., SandboxServer]]:
    """Start sandboxes on free loopback ports; each is stopped when the test ends.

    Usage: ``sandbox_factory("0.217", seed=None, access_token_seconds=5)``.
    """
    started: list[SandboxServer] = []

    def start(generation: str = "1.8", **overrides) -> SandboxServer:
        overrides.setdefault("seed", "demo")
        config = replace(SandboxConfig(generation=generation), **overrides)
        server = SandboxServer(config).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(params=GENERATIONS, ids=lambda g: f"tmi-{g}")
def generation(request) -> str:
    return request.param


@pytest.fixture
def sandbox(sandbox_factory, generation) -> SandboxServer:
    """A seeded sandbox of each TMI generation (the test runs once per generation)."""
    return sandbox_factory(generation)
