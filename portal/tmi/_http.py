"""The one place that imports httpx, so the HTTP library could be swapped without touching the client."""
from __future__ import annotations

import functools
import ssl
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx

Auth = httpx.Auth
AsyncClient = httpx.AsyncClient
BaseTransport = httpx.BaseTransport
AsyncBaseTransport = httpx.AsyncBaseTransport
Client = httpx.Client
Request = httpx.Request
Response = httpx.Response
Timeout = httpx.Timeout
URL = httpx.URL

# Failures before a response arrived. ConnectError/ConnectTimeout mean the request never reached the
# server, so even a POST may be retried; other timeouts may have reached it.
TransportError = httpx.TransportError
TimeoutException = httpx.TimeoutException
ConnectError = httpx.ConnectError
ConnectTimeout = httpx.ConnectTimeout

@functools.cache
def shared_tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every client. httpx builds (and loads the CA bundle into) a new
    one per client otherwise: about 800 KiB each, which a portal holding a client per live diagram
    session pays a thousand times over. A context is safe to share between clients and threads."""
    return httpx.create_ssl_context()


def limit_timeout(request: Request, timeout: Timeout, seconds: float) -> None:
    """Cut each of the request's timeouts (connect, write, each read, waiting for a pooled connection) to
    `seconds`, when the caller's deadline is nearer than the client's own timeout allows."""
    request.extensions["timeout"] = {phase: seconds if limit is None else min(limit, seconds)
                                     for phase, limit in timeout.as_dict().items()}


# Sent as `auth=` to turn the client's auth hook off for public endpoints (GET /, /oauth2/*).
NO_AUTH = None


def cookieless_jar() -> CookieJar:
    """A jar that keeps nothing. TMI 1.8 sets token cookies (PROTOCOL.md 3.5); a client shared by many
    users must never send one user's cookie on another's request, so it authenticates by header only."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
