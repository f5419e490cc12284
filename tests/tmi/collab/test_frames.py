"""`frames.parse` on hostile input: whatever a browser sends, the answer is a clean frame or FrameError,
never another exception (which would end the consumer with 1011 and skip its cleanup)."""

from __future__ import annotations

import json
import uuid

import pytest

from portal.tmi.collab import frames

TEN_KB = 10 * 1024
CELL = str(uuid.uuid4())


def cursor(x: str) -> str:
    return '{"type": "cursor", "x": ' + x + ', "y": 1}'


def ops_with(data: str) -> str:
    return (
        '{"type": "ops", "operation_id": "'
        + str(uuid.uuid4())
        + '", "cells": [{"id": "'
        + CELL
        + '", "operation": "add", "data": '
        + data
        + "}]}"
    )


HOSTILE = {
    "10 KB of [": "[" * TEN_KB,
    '10 KB of {"a":': '{"a":' * (TEN_KB // 5),
    "closed deep nesting": "[" * 2000 + "]" * 2000,
    "deep nesting inside a cell": ops_with('{"x":' * 500 + "1" + "}" * 500),
    "deep nesting after a string holding brackets": '{"type": "resync", "pad": "]]]]}}}}", "a": ' + "[" * 3000,
    "an integer of 5000 digits": cursor("9" * 5000),
    "an integer of 4000 digits in a cell": ops_with('{"zIndex": ' + "9" * 4000 + "}"),
    "a float beyond double range": cursor("1e999999"),
    "a float just beyond double range": cursor("1e309"),
    "a float of 400 digits": cursor("1" * 400 + ".5"),
    "an integer one past the largest exact one": cursor(str(2**53 + 1)),
    "an integer one past the smallest exact one, in a cell": ops_with('{"zIndex": ' + str(-(2**53) - 1) + "}"),
    "a signed upper-case exponent beyond double range, in a list": ops_with('{"vertices": [1, 2E+400]}'),
    "a float beyond double range with a long fraction": cursor("9" * 15 + "." + "9" * 40 + "e294"),
    "NaN": cursor("NaN"),
    "Infinity in a cell": ops_with('{"zIndex": -Infinity}'),
    "a lone surrogate escape": '{"type": "selection", "cell_ids": [], "note": "\\ud800"}',
    "a lone surrogate in a cell label": ops_with('{"attrs": {"text": {"text": "\\udfff"}}}'),
    "a raw lone surrogate": '{"type": "resync", "note": "\ud800"}',
    "a type that is a huge number": '{"type": ' + "9" * 4000 + "}",
    "an unterminated string": '{"type": "resync", "note": "[[[[',
    "an empty frame": "",
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_text_is_refused_with_a_frame_error(text):
    with pytest.raises(frames.FrameError) as refused:
        frames.parse(text)
    assert refused.value.frame["type"] == "error" and refused.value.message.endswith(".")


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe\xfd",  # not UTF-8 at all
        b'{"type": "resync", "note": "\xc3\x28"}',  # an invalid two-byte sequence
        b'{"type": "resync", "note": "\xed\xa0\x80"}',  # a surrogate encoded as UTF-8
        b"[" * TEN_KB,
    ],
    ids=["garbage", "invalid sequence", "encoded surrogate", "10 KB of ["],
)
def test_invalid_utf8_bytes_are_refused(raw):
    with pytest.raises(frames.FrameError) as refused:
        frames.parse(raw)
    assert refused.value.code in ("invalid_frame", "too_deep")


def test_nesting_is_refused_before_it_is_decoded():
    too_deep = "[" * (frames.MAX_DEPTH + 1) + "]" * (frames.MAX_DEPTH + 1)
    with pytest.raises(frames.FrameError) as refused:
        frames.parse(too_deep)
    assert refused.value.code == "too_deep" and str(frames.MAX_DEPTH) in refused.value.message


def test_brackets_inside_strings_do_not_count_as_nesting():
    label = "[[[{{{" * 100 + '\\"' + "]]]}}}" * 100
    frame = frames.parse(ops_with('{"attrs": {"text": {"text": "' + label + '"}}}'))
    assert frame["cells"][0]["data"]["attrs"]["text"]["text"] == json.loads(f'"{label}"')


def test_a_real_cell_nests_well_within_the_limit():
    edge = {
        "id": CELL,
        "shape": "flow",
        "source": {"cell": str(uuid.uuid4())},
        "target": {"cell": str(uuid.uuid4())},
        "vertices": [{"x": 1, "y": 2}],
        "labels": [{"attrs": {"text": {"text": "HTTPS"}}, "position": 0.5}],
        "attrs": {"line": {"stroke": "#333", "targetMarker": {"name": "classic"}}},
    }
    text = json.dumps(
        {"type": "ops", "operation_id": str(uuid.uuid4()), "cells": [{"id": CELL, "operation": "add", "data": edge}]}
    )
    assert frames.parse(text)["cells"][0]["data"] == edge
    assert frames.parse(text.encode())["cells"][0]["data"] == edge


def test_ordinary_numbers_and_text_pass():
    assert frames.parse(cursor("-12.5e2")) == {"type": "cursor", "x": -1250.0, "y": 1}
    assert frames.parse(cursor(str(2**53))) == {"type": "cursor", "x": 2**53, "y": 1}
    assert frames.parse(cursor(str(-(2**53)))) == {"type": "cursor", "x": -(2**53), "y": 1}
    assert frames.parse(cursor("1.5E+307")) == {"type": "cursor", "x": 1.5e307, "y": 1}
    label = "Zahlungs-API 支付 \U0001f512"
    assert frames.parse(ops_with(json.dumps({"label": label})))["cells"][0]["data"]["label"] == label


@pytest.mark.parametrize(
    "raw",
    [
        {"type": "resync", "pad": {1, 2}},  # not JSON at all
        {"type": 10**5000},  # str() of it raises ValueError
        42,
    ],
)
def test_decoded_objects_that_are_not_json_are_refused(raw):
    with pytest.raises(frames.FrameError):
        frames.parse(raw)


def test_a_self_containing_object_is_refused():
    loop: dict = {"type": "resync"}
    loop["self"] = loop
    with pytest.raises(frames.FrameError):
        frames.parse(loop)
