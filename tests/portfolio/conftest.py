"""Portfolio store helpers: TMI changed behind the portal's back (as a member, over the sandbox's REST API), the
calls that reached the sandbox, and the sandbox's own view of a member's models."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

import httpx
import pytest

from portal.portfolio.models import StoredThreatModel
from portal.portfolio.vocabulary import risk_score, severity_key, threat_is_open
from portal.tmi import TMIClient, TokenPair
from tests.conftest import member_tokens
from tests.dashboard.conftest import readable_models


@pytest.fixture
def tmi_as(sandbox) -> Iterator[Callable[[str], TMIClient]]:
    """`tmi_as("alice")`: a TMI client acting as that sandbox user, for changes made in TMI itself."""
    opened: dict[str, TMIClient] = {}

    def open_client(hint: str) -> TMIClient:
        if hint not in opened:
            tokens = TokenPair(**member_tokens(sandbox.base_url, hint))
            opened[hint] = TMIClient(sandbox.base_url, auth=tokens, timeout=10, max_retries=0)
        return opened[hint]

    yield open_client
    for client in opened.values():
        client.close()


def sandbox_calls(sandbox) -> Counter:
    """Every call the sandbox got since the last `sandbox_calls_afresh`, by "METHOD /path"."""
    return Counter(httpx.get(f"{sandbox.base_url}/_sandbox/requests", timeout=10).json()["seen"])


def sandbox_calls_afresh(sandbox) -> None:
    httpx.delete(f"{sandbox.base_url}/_sandbox/requests", timeout=10).raise_for_status()


def expected_counts(tm: dict) -> tuple[dict[str, int], int, int]:
    """(open by severity, live threats, risk score) of a model as the sandbox holds it."""
    live = [t for t in tm.get("threats", []) if not t.get("deleted_at")]
    by_severity = Counter(
        severity_key(t.get("severity"))
        for t in live
        if threat_is_open(status=t.get("status"), mitigated=t.get("mitigated"))
    )
    return dict(by_severity), len(live), risk_score(by_severity)


def readable_ids(sandbox, hint: str) -> set[str]:
    return {tm["id"] for tm in readable_models(sandbox, hint)}


def stored(organization, tm_id: str) -> StoredThreatModel:
    return StoredThreatModel.objects.get(organization=organization, tmi_id=tm_id)
