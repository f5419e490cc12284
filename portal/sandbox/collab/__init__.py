"""Placeholder: being written."""
import contextlib


def routes(state):
    return []


@contextlib.asynccontextmanager
async def running(state):
    yield
