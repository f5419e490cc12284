"""Everything a conformance run sends and receives, held against TMI's official contract of the generation.

The run's TMI clients get these event hooks: each request is counted (a run stops at its budget, so it never
floods a server) and each response is read and checked against the OpenAPI document; WebSocket frames are
checked against the AsyncAPI document. The last response is kept, for checks about headers.
"""

from __future__ import annotations

import threading
from typing import Any

from portal.conformance.contract.recorder import ContractRecorder
from portal.conformance.contract.violations import Violation

# What the server is answerable for. A request the portal's client got wrong is the client's fault (its own
# contract tests catch that), and some checks send a wrong request on purpose (an empty PATCH, an id in a POST).
SERVER_CHANNELS = ("response", "ws-receive")


class BudgetExhausted(Exception):
    """The run sent as many requests as it may: no more are sent."""


class Recording:
    def __init__(self, *, max_requests: int) -> None:
        self.max_requests = max_requests
        self.requests = 0
        self.recorder: ContractRecorder | None = None  # once the generation is known
        self.last_response: Any = None
        self._lock = threading.Lock()

    def know_generation(self, generation: str) -> None:
        if self.recorder is None or self.recorder.generation != generation:
            self.recorder = ContractRecorder(generation)

    # -- httpx event hooks ------------------------------------------------------------------------------
    def on_request(self, request: Any) -> None:
        with self._lock:
            if self.requests >= self.max_requests:
                raise BudgetExhausted(f"the run's budget of {self.max_requests} requests is spent")
            self.requests += 1

    def on_response(self, response: Any) -> None:
        response.read()
        self.last_response = response
        if self.recorder is not None:
            with self._lock:
                self.recorder.record_exchange(response.request, response)

    def hooks(self) -> dict[str, list]:
        return {"request": [self.on_request], "response": [self.on_response]}

    def frame_received(self, frame: str | bytes) -> None:
        if self.recorder is not None:
            with self._lock:
                self.recorder.record_frame("ws-receive", frame)

    # -- what a check is answerable for -----------------------------------------------------------------
    def mark(self) -> int:
        return len(self.recorder.violations) if self.recorder is not None else 0

    def unexcused_since(self, mark: int) -> list[Violation]:
        """Violations on the server's side since `mark` that no documented deviation excuses."""
        if self.recorder is None:
            return []
        return [
            violation
            for violation in self.recorder.violations[mark:]
            if violation.channel in SERVER_CHANNELS and self.recorder.deviation_of(violation) is None
        ]
