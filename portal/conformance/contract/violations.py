"""One disagreement between what went over the wire and the official contract of that generation."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

# request/response: an HTTP exchange checked against the OpenAPI document.
# ws-send/ws-receive: a WebSocket frame from the client / from the server, checked against the AsyncAPI document.
Channel = Literal["request", "response", "ws-send", "ws-receive"]


@dataclass(frozen=True)
class Violation:
    generation: str
    channel: Channel
    operation: str  # "GET /threat_models/{threat_model_id}" for HTTP, the message_type for WebSocket
    keyword: str  # the failing JSON-Schema keyword ("required", "enum", ...) or a structural one ("undeclared-status")
    message: str
    location: str = ""  # "body/threat_models/0/id", "header/ETag", "query/limit", "frame"
    status: int | None = None
    exchange: int = 0  # which recorded exchange or frame it came from (set by the recorder)

    def __str__(self) -> str:
        status = f" -> {self.status}" if self.status is not None else ""
        where = f" at {self.location}" if self.location else ""
        return f"[TMI {self.generation}] {self.channel} {self.operation}{status}{where}: {self.keyword}: {self.message}"


def json_pointer(parts: Iterable[object]) -> str:
    return "/".join(str(part) for part in parts)


def describe(violations: Sequence[Violation]) -> str:
    return "\n".join(f"  - {violation}" for violation in violations)


def schema_violations(errors: Iterable, *, prefix: str, **fields) -> list[Violation]:
    """One violation per failing jsonschema keyword, located by a path under `prefix` ("body", "query/limit", ...)."""
    from jsonschema.exceptions import best_match

    found = []
    for error in errors:
        if _float_multiple(error):
            continue
        message = _shorten(error.message)
        if error.context:  # anyOf/oneOf: name the branch that came closest, or the message says nothing useful
            closest = best_match(error.context)
            message += f" (closest: {_shorten(closest.message)} at {json_pointer(closest.absolute_path) or '.'})"
        location = json_pointer([prefix, *error.absolute_path]) if prefix else json_pointer(error.absolute_path)
        found.append(Violation(keyword=str(error.validator), message=message, location=location, **fields))
    return found


def _float_multiple(error) -> bool:
    """`multipleOf` failed only by binary floats: 9.1 is a multiple of 0.1 to anyone but a float division (the
    sandbox's own validator has the same tolerance)."""
    if error.validator != "multipleOf" or not isinstance(error.instance, (int, float)) or not error.validator_value:
        return False
    quotient = error.instance / error.validator_value
    return abs(quotient - round(quotient)) <= 1e-9


def _shorten(text: str, limit: int = 300) -> str:
    """Messages quote the failing instance first and the rule last: keep both ends."""
    return text if len(text) <= limit else f"{text[: limit // 2]}...{text[-(limit // 2) :]}"


@dataclass(frozen=True)
class ViolationPattern:
    """Which violations something is about. Unset fields match anything; `location` must match in full
    (a regular expression, so list indices can vary) and `message` is searched for (a regular expression)."""

    channel: Channel
    keyword: str
    operation: str | None = None
    location: str | None = None
    message: str | None = None
    status: int | None = None
    generations: tuple[str, ...] = ("1.8", "0.217")

    def matches(self, violation: Violation) -> bool:
        return (
            violation.generation in self.generations
            and violation.channel == self.channel
            and violation.keyword == self.keyword
            and self.operation in (None, violation.operation)
            and self.status in (None, violation.status)
            and (self.location is None or re.fullmatch(self.location, violation.location) is not None)
            and (self.message is None or re.search(self.message, violation.message) is not None)
        )
