"""Check WebSocket frames against the message payload schemas of TMI's AsyncAPI document of one generation.

The catalogue comes from the document's two operations: `sendDiagramOperation` (client -> server) and
`receiveDiagramEvents` (server -> client), each message keyed by its payload's `message_type` const. Both
documents also declare channel messages that neither operation lists (1.8 `presenter_request_event`, 0.217
`diagram_state_sync`): their direction is taken from the title's arrow ("Server → Host"), or both when it has none.
The payload schemas are JSON Schema draft 7 (AsyncAPI's default) with OpenAPI 3.0 leftovers, read as
tests/contract/dialect.py explains; the 0.217 document's `tmi-openapi.json#...` references resolve to the
OpenAPI document of the same generation.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import yaml
from jsonschema import Draft7Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from portal.conformance.contract.dialect import as_json_schema, merge_closed_all_of
from portal.conformance.contract.specs import asyncapi_path, openapi_path
from portal.conformance.contract.violations import Channel, Violation, schema_violations

_BASE = "https://tmi-contract.invalid/"
_ASYNCAPI_URI = _BASE + "tmi-asyncapi.yml"
_OPENAPI_URI = _BASE + "tmi-openapi.json"  # the name the 0.217 AsyncAPI uses in its external $refs
_OPERATION_OF_CHANNEL = {"ws-send": "sendDiagramOperation", "ws-receive": "receiveDiagramEvents"}


def _resolve(document: dict, ref: str) -> dict:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _message_refs_by_channel(document: dict) -> dict[Channel, set[str]]:
    refs: dict[Channel, set[str]] = {
        channel: {message["$ref"] for message in document["operations"][operation]["messages"]}
        for channel, operation in _OPERATION_OF_CHANNEL.items()
    }
    listed = set().union(*refs.values())
    for channel_item in document["channels"].values():
        for message in channel_item["messages"].values():
            if message["$ref"] in listed:
                continue
            title = _resolve(document, message["$ref"]).get("title", "")
            if "Server →" in title:
                refs["ws-receive"].add(message["$ref"])
            elif "→ Server" in title:
                refs["ws-send"].add(message["$ref"])
            else:
                refs["ws-receive"].add(message["$ref"])
                refs["ws-send"].add(message["$ref"])
    return refs


class AsyncAPIContract:
    def __init__(self, generation: str) -> None:
        self.generation = generation
        document = as_json_schema(yaml.safe_load(asyncapi_path(generation).read_text()))
        openapi = as_json_schema(merge_closed_all_of(json.loads(openapi_path(generation).read_bytes())))
        registry = Registry().with_resources(
            [
                (_ASYNCAPI_URI, Resource.from_contents(document, default_specification=DRAFT7)),
                (_OPENAPI_URI, Resource.from_contents(openapi, default_specification=DRAFT7)),
            ]
        )
        self._validators: dict[Channel, dict[str, Draft7Validator]] = {}
        for channel, message_refs in _message_refs_by_channel(document).items():
            catalogue = self._validators[channel] = {}
            for message_ref in message_refs:
                payload_ref = message_ref + "/payload"
                payload = _resolve(document, _resolve(document, payload_ref)["$ref"])
                message_type = payload["properties"]["message_type"]["const"]
                schema = {"$ref": _ASYNCAPI_URI + payload_ref}
                catalogue[message_type] = Draft7Validator(schema, registry=registry, format_checker=FormatChecker())
        # The send operation's own text sets the frame limit ("Message size limit: 4KB per message").
        limit = re.search(r"Message size limit: (\d+)KB", document["operations"]["sendDiagramOperation"]["description"])
        self.max_sent_frame_bytes = int(limit.group(1)) * 1024 if limit else None

    def message_types(self, channel: Channel) -> set[str]:
        return set(self._validators[channel])

    def check(self, channel: Channel, frame: str | bytes) -> list[Violation]:
        """Violations of one frame; `channel` is "ws-send" (client -> server) or "ws-receive"."""
        raw = frame.encode() if isinstance(frame, str) else frame
        try:
            message = json.loads(raw)
        except ValueError:
            return [Violation(self.generation, channel, "?", "not-json", "the frame is not JSON", "frame")]
        return self.check_message(channel, message, frame_bytes=len(raw))

    def check_message(self, channel: Channel, message: Any, *, frame_bytes: int | None = None) -> list[Violation]:
        message_type = message.get("message_type") if isinstance(message, dict) else None
        fields = dict(generation=self.generation, channel=channel, operation=str(message_type))
        found: list[Violation] = []
        if channel == "ws-send" and self.max_sent_frame_bytes and (frame_bytes or 0) > self.max_sent_frame_bytes:
            found.append(
                Violation(
                    keyword="frame-size",
                    location="frame",
                    message=f"{frame_bytes} bytes > {self.max_sent_frame_bytes}",
                    **fields,
                )
            )
        validator = self._validators[channel].get(message_type)
        if validator is None:
            found.append(
                Violation(
                    keyword="unknown-message-type",
                    location="message_type",
                    message=f"{message_type!r} is not a {channel} message of this generation",
                    **fields,
                )
            )
            return found
        return found + schema_violations(validator.iter_errors(message), prefix="", **fields)


@cache
def asyncapi_contract(generation: str) -> AsyncAPIContract:
    return AsyncAPIContract(generation)
