"""Fixtures for contract tests: a recorder per test that fails it on any violation the deviation table does
not excuse, and httpx transports that feed it.

`CONTRACT_REPORT=1 pytest tests/contract` ends with what was covered and which deviations were used.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator

import pytest

from portal.conformance.contract.deviations import DEVIATIONS
from portal.conformance.contract.recorder import AsyncValidatingTransport, ContractRecorder, ValidatingTransport
from portal.conformance.contract.violations import describe

_COVERED: Counter[str] = Counter()
_ACCEPTED: Counter[str] = Counter()


@pytest.fixture
def contract(generation) -> Iterator[ContractRecorder]:
    recorder = ContractRecorder(generation)
    yield recorder
    _COVERED.update({f"[{generation}] {what}": n for what, n in recorder.covered.items()})
    _ACCEPTED.update({f"[{generation}] {what}": n for what, n in recorder.accepted().items()})
    unexpected = recorder.unexpected()
    if unexpected:
        pytest.fail(
            f"{len(unexpected)} contract violation(s) not in tests/contract/deviations.py:\n{describe(unexpected)}",
            pytrace=False,
        )


@pytest.fixture
def validating_transport(contract) -> ValidatingTransport:
    return ValidatingTransport(contract)


@pytest.fixture
def async_validating_transport(contract) -> AsyncValidatingTransport:
    return AsyncValidatingTransport(contract)


def pytest_terminal_summary(terminalreporter) -> None:
    if not os.environ.get("CONTRACT_REPORT") or not _COVERED:
        return
    terminalreporter.section("contract coverage (exchange or frame -> count)")
    for what in sorted(_COVERED):
        terminalreporter.write_line(f"{_COVERED[what]:4}  {what}")
    terminalreporter.section("accepted deviations (id -> violations excused)")
    for what in sorted(_ACCEPTED):
        terminalreporter.write_line(f"{_ACCEPTED[what]:4}  {what}")
    used = {what.split("] ", 1)[1] for what in _ACCEPTED}
    unused = [deviation.id for deviation in DEVIATIONS if deviation.id not in used]
    terminalreporter.write_line(f"not exercised in this run: {', '.join(unused) or 'none'}")
