"""The vendored contracts are the official documents, unchanged."""

from __future__ import annotations

import pytest

from tests.contract.specs import SHARED_DIR, SHARED_ORIGINALS, VENDORED_DIR


@pytest.mark.parametrize("vendored", sorted(SHARED_ORIGINALS))
def test_vendored_spec_is_byte_identical_to_the_shared_original(vendored):
    original = SHARED_ORIGINALS[vendored]
    if not SHARED_DIR.is_dir():
        pytest.skip(f"{SHARED_DIR} is not on this machine (CI); the vendored copy cannot be compared")
    assert (VENDORED_DIR / vendored).read_bytes() == original.read_bytes(), f"{vendored} differs from {original}"
