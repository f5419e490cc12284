"""1.8's document and repository `uri` rules, as the real 1.8.22 answered (2026-12-04): https only, no
localhost, loopback, private, link-local or cloud-metadata address; a host name is resolved only when the
sandbox's `resolve_uri_hosts` is on (the real server always resolves; the sandbox runs offline)."""

from __future__ import annotations

import pytest

from portal.sandbox.rest.addresses import uri_refusal
from tests.sandbox.rest_world import Api, error, first_child, tm_id

BASE = f"/threat_models/{tm_id()}"
REFUSED = {
    "http://93.184.216.34/doc": "invalid uri: unsupported scheme: http (allowed: https)",
    "ftp://files.example.com/a": "invalid uri: unsupported scheme: ftp (allowed: https)",
    "ssh://git@example.com/x.git": "invalid uri: unsupported scheme: ssh (allowed: https)",
    "https://10.0.0.5/doc": "invalid uri: blocked: private address 10.0.0.5",
    "https://127.0.0.1/doc": "invalid uri: blocked: loopback address 127.0.0.1",
    "https://[::1]/x": "invalid uri: blocked: loopback address ::1",
    "https://localhost/x": "invalid uri: blocked: localhost is not allowed",
    "https://169.254.169.254/latest": "invalid uri: blocked: cloud metadata endpoint 169.254.169.254",
    "https://169.254.1.1/x": "invalid uri: blocked: link-local address 169.254.1.1",
}


@pytest.mark.parametrize("collection", ["documents", "repositories"])
def test_uris_are_https_to_public_addresses_at_18(sandbox_factory, collection):
    server = sandbox_factory("1.8")
    bob = Api(server, "bob")
    body = {"name": "Ref"}
    for uri, text in REFUSED.items():
        assert error(bob.post(f"{BASE}/{collection}", {**body, "uri": uri}), 400, "invalid_input") == text, uri
    existing = first_child(server, collection)
    path = f"{BASE}/{collection}/{existing['id']}"
    assert error(bob.put(path, {**body, "uri": "http://example.com/a"}), 400, "invalid_input").startswith(
        "invalid uri: unsupported scheme: http"
    )
    error(bob.patch(path, [{"op": "replace", "path": "/uri", "value": "https://192.168.1.2/"}]), 400, "invalid_input")
    assert bob.get(path).json()["uri"] == existing["uri"]  # nothing was changed
    # public addresses, and names the offline sandbox does not look up (the real server would)
    for uri in ("https://8.8.8.8/doc", "https://docs.example.com/a", "https://github.com/example/x"):
        assert bob.post(f"{BASE}/{collection}", {**body, "uri": uri}).status_code == 201, uri


def test_0217_takes_any_uri(sandbox_factory):
    bob = Api(sandbox_factory("0.217"), "bob")
    assert bob.post(f"{BASE}/documents", {"name": "Ref", "uri": "http://93.184.216.34/doc"}).status_code == 201


def test_host_names_are_resolved_only_when_asked():
    # (the spec's uri pattern stops this one before the handler; the rule is the server's all the same)
    assert uri_refusal("nothing-here", resolve=False) == "invalid uri: invalid URL: missing scheme or host"
    assert uri_refusal("https://no-such-host.invalid/a", resolve=False) is None
    assert uri_refusal("https://no-such-host.invalid/a", resolve=True) == (
        "invalid uri: cannot resolve hostname: no-such-host.invalid"
    )
