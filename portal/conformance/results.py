"""What a conformance run answers: one `Check` per behaviour, and the `Report` around them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Outcome = Literal["ok", "fail", "skip"]
OK: Outcome = "ok"
FAIL: Outcome = "fail"
SKIP: Outcome = "skip"


@dataclass(frozen=True)
class Check:
    name: str  # "threats: POST ignores server-owned fields"
    outcome: Outcome
    detail: str = ""  # what failed, why it was skipped, or what was seen


@dataclass
class Report:
    base_url: str
    checks: list[Check] = field(default_factory=list)
    generation: str = ""
    version: str = ""
    requests: int = 0  # HTTP requests sent to the server, all told
    # Why the run could not start: the server was not reached, is not TMI, or could not be signed in to.
    unreachable: str = ""

    @property
    def passed(self) -> int:
        return sum(check.outcome == OK for check in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [check for check in self.checks if check.outcome == FAIL]

    @property
    def counted(self) -> int:
        """Checks that ran (skips are not counted in "N/M checks passed")."""
        return sum(check.outcome != SKIP for check in self.checks)

    @property
    def exit_status(self) -> int:
        """0: nothing failed; 1: a check failed; 2: the server could not be reached or signed in to."""
        if self.unreachable:
            return 2
        return 1 if self.failed else 0

    def to_json(self) -> dict[str, Any]:
        return {
            **{key: value for key, value in asdict(self).items() if key != "checks"},
            "checks": [asdict(check) for check in self.checks],
            "passed": self.passed,
            "counted": self.counted,
            "exit_status": self.exit_status,
        }
