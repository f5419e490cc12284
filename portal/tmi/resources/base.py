"""What every resource shares: the runner that executes its flows, and the client's context."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from portal.tmi.client import BaseClient


class Resource:
    def __init__(self, client: BaseClient) -> None:
        self._client = client
        self._runner = client._runner


def operation(flow: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a flow (a generator method) into a method that runs it: the result on the sync client, an
    awaitable of it on the async client."""

    @functools.wraps(flow)
    def run(self: Resource, *args: Any, **kwargs: Any) -> Any:
        return self._runner.run(flow(self, *args, **kwargs))

    return run
