"""Latency added at the sandbox, as a TMI across a network would answer (the sandbox's /_sandbox/faults)."""

from __future__ import annotations


def sandbox_latency_add(base_url: str, latency_ms: int, prefixes: tuple[str, ...]) -> None:
    import httpx

    for prefix in prefixes:
        response = httpx.post(
            f"{base_url}/_sandbox/faults", timeout=10, json={"path_prefix": prefix, "latency_ms": latency_ms}
        )
        response.raise_for_status()
