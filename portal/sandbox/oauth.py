"""The OAuth 2.0 + PKCE login flow of both generations (PROTOCOL.md 3.1-3.6, 9.2).

The sandbox has one identity provider, the built-in test IdP (builtin_idp.py); a code from it
is exchanged here for the tokens SandboxState mints. Profile, logout and revocation routes
live in account.py.
"""

from __future__ import annotations

import base64
import re
import secrets
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from portal.sandbox import builtin_idp, pkce
from portal.sandbox.auth import REFRESH_COOKIE, clear_token_cookies, set_token_cookies
from portal.sandbox.bodies import is_form, read_fields
from portal.sandbox.errors import bare_error, tmi_error
from portal.sandbox.http_rules import go_redirect
from portal.sandbox.oauth_store import LoginRecord, OAuthStore
from portal.sandbox.state import SandboxState

IDP_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_-]{0,99}$")
STATE_RE = re.compile(r"^[a-zA-Z0-9_~.+/=-]{0,256}$")
SCOPE_RE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9_ ]*[a-zA-Z0-9_]$")
SPEC_CHALLENGE_RE = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
LOGIN_HINT_RE = {"1.8": re.compile(r"^[a-zA-Z0-9._%+-]{1,254}$"), "0.217": re.compile(r"^[a-zA-Z0-9-]{3,20}$")}
TOKEN_FIELDS = {
    "grant_type",
    "code",
    "state",
    "redirect_uri",
    "code_verifier",
    "client_id",
    "client_secret",
    "refresh_token",
}
DEV_BUILD_MODES = ("dev", "test")
# The OpenAPI validator's words (kin-openapi), as both real servers answer them (2026-12-04).
OPENAPI = "error in openapi3filter.RequestError: "
BODY_SCHEMA = OPENAPI + "request body has an error: doesn't match schema: "
GRANT_TYPES = {"1.8": ("authorization_code", "client_credentials", "refresh_token"), "0.217": ("authorization_code",)}
TOKEN_REQUIRED_0217 = ("grant_type", "code", "redirect_uri", "code_verifier")
REFRESH_REFUSED_0217 = "Failed to refresh token: invalid refresh token: redis: nil"


def oauth_error(status: int, error: str, description: str) -> JSONResponse:
    """RFC 6749-style body, which the OAuth handlers send at both generations (no `details`)."""
    return bare_error(status, {"error": error, "error_description": description})


def is_http_url(value: str | None) -> bool:
    if not value:
        return False
    parts = urlsplit(value.strip())
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def request_origin(request: Request) -> str:
    """scheme://host of the request, honouring X-Forwarded-Proto as TMI does."""
    scheme = request.headers.get("x-forwarded-proto", request.url.scheme)
    return f"{scheme}://{request.headers.get('host', request.url.netloc)}"


def callback_allowed(allowlist: list[str], callback: str) -> bool:
    """Exact URLs, or prefixes ending in '*'. Fail-closed: an empty list allows nothing."""
    return any(callback.startswith(entry[:-1]) if entry.endswith("*") else callback == entry for entry in allowlist)


class OAuthRoutes:
    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.config = state.config
        self.store = OAuthStore(state)

    def routes(self) -> list[Route]:
        return [
            Route("/oauth2/providers", self.providers, methods=["GET"]),
            Route("/oauth2/authorize", self.authorize, methods=["GET"]),
            Route("/oauth2/callback", self.callback, methods=["GET"]),
            Route("/oauth2/token", self.token, methods=["POST"]),
            Route("/oauth2/refresh", self.refresh, methods=["POST"]),
        ]

    # -- providers --------------------------------------------------------------------
    async def providers(self, request: Request) -> Response:
        if not self._test_idp_enabled:
            return JSONResponse({"providers": []})
        idp, origin = self.config.test_idp, request_origin(request)
        name = "Test Provider" if self.config.is_legacy else "TMI Development"
        return JSONResponse(
            {
                "providers": [
                    {
                        "id": idp,
                        "name": name,
                        "icon": f"/static/provider-logos/signin/{idp}.svg",
                        "auth_url": f"{origin}/oauth2/authorize?idp={idp}",
                        "token_url": f"{origin}/oauth2/token?idp={idp}",
                        "redirect_uri": f"{self.config.base_url}/oauth2/callback",
                        "client_id": f"{idp}-client",
                    }
                ]
            }
        )

    def _resolve_idp(self, idp: str | None) -> str | Response:
        """The `idp` rule shared by authorize and token: default to the test IdP in dev/test builds."""
        if not idp:
            if self._dev_build:
                return self.config.test_idp
            return bare_error(400, {"error": "Missing required parameter: idp"})
        if not IDP_RE.match(idp):
            return tmi_error(self.state, 400, "invalid_input", f"Invalid idp parameter: {idp}")
        if idp == self.config.test_idp and not self._test_idp_enabled:
            return bare_error(404, {"error": "Provider not available"})
        if idp != self.config.test_idp:
            return bare_error(400, {"error": f"provider {idp} not found"})
        return idp

    @property
    def _dev_build(self) -> bool:
        return self.config.build_mode in DEV_BUILD_MODES

    @property
    def _test_idp_enabled(self) -> bool:
        """0.217 production builds have no `test` provider; 1.8 lists `tmi` but refuses its codes."""
        return self._dev_build or not self.config.is_legacy

    # -- authorize --------------------------------------------------------------------
    def _spec_violation(self, query: dict[str, str]) -> str | None:
        """What the OpenAPI validator rejects before the handler runs (400 invalid_input)."""
        if "scope" not in query:
            return "query parameter 'scope' is required"
        if not SCOPE_RE.match(query["scope"]) or len(query["scope"]) > 256:
            return "query parameter 'scope' does not match the required pattern"
        if "code_challenge" not in query:
            return "query parameter 'code_challenge' is required"
        if not SPEC_CHALLENGE_RE.match(query["code_challenge"]):
            return "query parameter 'code_challenge' must be 43-128 characters of [A-Za-z0-9-._~]"
        if "code_challenge_method" not in query:
            return "query parameter 'code_challenge_method' is required"
        if query["code_challenge_method"] != "S256":
            return (
                OPENAPI + 'parameter "code_challenge_method" in query has an error: '
                'value is not one of the allowed values ["S256"]'
            )
        if "state" in query and not STATE_RE.match(query["state"]):
            return "query parameter 'state' does not match the required pattern"
        hint = query.get("login_hint")
        if hint is not None and not LOGIN_HINT_RE[self.config.generation].match(hint):
            return "query parameter 'login_hint' does not match the required pattern"
        if "client_callback" in query and not is_http_url(query["client_callback"]):
            return "query parameter 'client_callback' must be an http(s) URL"
        return None

    async def authorize(self, request: Request) -> Response:
        query = dict(request.query_params)
        problem = self._spec_violation(query)
        if problem:
            return tmi_error(self.state, 400, "invalid_input", problem)
        idp = self._resolve_idp(query.get("idp"))
        if isinstance(idp, Response):
            return idp
        if "openid" not in query["scope"].split():
            return oauth_error(400, "invalid_scope", "The 'openid' scope is required")
        if query.get("response_type", "code") != "code":
            return oauth_error(400, "unsupported_response_type", "Only response_type=code is supported")
        if not pkce.CHALLENGE_RE.match(query["code_challenge"]):
            return oauth_error(400, "invalid_request", "code_challenge must be base64url without padding")
        callback = query.get("client_callback")
        if (
            callback
            and not self.config.is_legacy
            and not callback_allowed(self.config.client_callback_allowlist, callback)
        ):
            return oauth_error(400, "invalid_request", "client_callback is not in the allowlist")
        state_param = query.get("state") or base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")
        hint = query.get("login_hint")
        self.store.logins.put(state_param, LoginRecord(idp, callback, hint, query["code_challenge"]))
        code = builtin_idp.make_code(self.state.now(), hint)
        self.store.challenges.put(code, query["code_challenge"])
        # TMI concatenates: a callback with its own query string gets a second '?'.
        target = callback or f"{self.config.base_url}/oauth2/callback"
        return go_redirect(f"{target}?code={code}&state={quote(state_param, safe='')}", 302)

    # -- callback (real providers; kept for completeness) ---------------------------------
    async def callback(self, request: Request) -> Response:
        query = request.query_params
        if query.get("error"):
            return bare_error(400, {"error": query["error"]})
        code, state_param = query.get("code"), query.get("state")
        if not code or not state_param:
            return bare_error(400, {"error": "Missing code or state parameter"})
        login: LoginRecord | None = self.store.logins.pop(state_param)
        if login is None:
            return bare_error(400, {"error": "Invalid state parameter"})
        if not login.client_callback:
            return oauth_error(400, "invalid_request", "client_callback URL is required")
        self.store.challenges.put(code, login.code_challenge)
        parts = urlsplit(login.client_callback)
        extra = urlencode({"code": code, "state": state_param})
        return go_redirect(urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra)), 302)

    # -- token ------------------------------------------------------------------------
    async def token(self, request: Request) -> Response:
        fields = await read_fields(request)
        problem = self._token_body_problem(fields, form=is_form(request))
        if problem is not None:
            return tmi_error(self.state, 400, "invalid_input", problem)
        idp = self._resolve_idp(request.query_params.get("idp"))
        if isinstance(idp, Response):
            return idp
        grant = fields.get("grant_type")
        if self.config.is_legacy:
            if not all(fields.get(k) for k in ("grant_type", "code", "code_verifier", "redirect_uri")):
                return bare_error(400, {"error": "Invalid request: missing required fields"})
            return self._with_cookies(self._exchange_code(fields))
        if grant == "authorization_code":
            return self._with_cookies(self._exchange_code(fields))
        if grant == "refresh_token":
            return self._refresh(fields.get("refresh_token") or request.cookies.get(REFRESH_COOKIE))
        if grant == "client_credentials":
            if not fields.get("client_id") or not fields.get("client_secret"):
                return oauth_error(400, "invalid_request", "client_id and client_secret are required")
            record = self.state.credential_check(str(fields["client_id"]), str(fields["client_secret"]))
            if record is None:
                return oauth_error(401, "invalid_client", "Invalid client credentials")
            return JSONResponse(self.state.issue_service_token(record))  # no cookies (real 1.8.22)
        return bare_error(400, {"error": f"Unsupported grant type: {grant or ''}"})

    def _token_body_problem(self, fields: dict[str, Any] | None, *, form: bool) -> str | None:
        """What the OpenAPI validator rejects (form bodies skip it): 1.8's strict keys, 0.217's grant enum."""
        if fields is None:
            return "Request body must be a JSON object"
        if form:
            return None
        unknown = sorted(set(fields) - TOKEN_FIELDS)
        if unknown and not self.config.is_legacy:
            return BODY_SCHEMA + f'property "{unknown[0]}" is unsupported'
        required = TOKEN_REQUIRED_0217 if self.config.is_legacy else ("grant_type",)
        missing = next((name for name in required if name not in fields), None)
        if missing is not None:
            return BODY_SCHEMA + f'Error at "/{missing}": property "{missing}" is missing'
        grants = GRANT_TYPES[self.config.generation]
        if fields.get("grant_type") not in grants:
            allowed = ",".join(f'"{g}"' for g in grants)
            return BODY_SCHEMA + f'Error at "/grant_type": value is not one of the allowed values [{allowed}]'
        return None

    def _exchange_code(self, fields: dict[str, Any]) -> dict[str, Any] | Response:
        code, verifier, redirect_uri = (fields.get(k) for k in ("code", "code_verifier", "redirect_uri"))
        if not code or not verifier or not redirect_uri:
            return oauth_error(400, "invalid_request", "Missing required fields for authorization_code grant")
        if not is_http_url(redirect_uri):  # must be a URL, but its value is otherwise ignored
            return oauth_error(400, "invalid_request", "redirect_uri must be a valid http(s) URL")
        if not pkce.VERIFIER_RE.match(verifier):
            return oauth_error(400, "invalid_request", "Code verifier format is invalid.")
        challenge = self.store.challenges.pop(code)  # single use, and no retry after a mismatch
        if challenge is None:
            return oauth_error(400, "invalid_grant", "Authorization code is invalid or expired")
        if not pkce.verifies(verifier, challenge):
            return oauth_error(400, "invalid_grant", "PKCE verification failed")
        if not code.startswith(builtin_idp.CODE_PREFIX):
            return oauth_error(400, "invalid_grant", "Authorization code is invalid or expired")
        if not self.config.is_legacy and not self._dev_build:
            return oauth_error(
                403,
                "unsupported_grant_type",
                "authorization code flow (PKCE) not supported for TMI provider in production "
                "builds; use client credentials",
            )
        who = builtin_idp.identity_for(self.config, builtin_idp.hint_from_code(code))
        user = self.state.user_for_login(
            provider=who.provider, provider_id=who.provider_id, email=who.email, display_name=who.display_name
        )
        if who.provider_id in self.config.administrators:  # the server's `administrators:` list
            user.is_admin = True
        return self.state.issue_tokens(user)

    # -- refresh ----------------------------------------------------------------------
    async def refresh(self, request: Request) -> Response:
        fields = await read_fields(request)
        token = (fields or {}).get("refresh_token")
        if self.config.is_legacy:
            if not isinstance(fields, dict) or "refresh_token" not in fields:
                text = BODY_SCHEMA + 'Error at "/refresh_token": property "refresh_token" is missing'
                return tmi_error(self.state, 400, "invalid_input", text)
            tokens = self.state.rotate_refresh_token(token) if token else None
            if tokens is None:  # used, unknown or empty: its Redis lookup finds nothing
                return bare_error(400, {"error": REFRESH_REFUSED_0217})
            return JSONResponse(tokens)
        return self._refresh(token or request.cookies.get(REFRESH_COOKIE))

    def _refresh(self, token: str | None) -> Response:
        """1.8's single-use rotation, shared by /oauth2/refresh and the refresh_token grant."""
        if not token:
            return bare_error(400, {"error": "Missing refresh_token"})
        tokens = self.state.rotate_refresh_token(token)
        if tokens is None:
            response = oauth_error(400, "invalid_grant", "The refresh token is invalid or expired.")
            clear_token_cookies(response)
            return response
        return self._with_cookies(tokens)

    def _with_cookies(self, result: dict[str, Any] | Response) -> Response:
        if isinstance(result, Response):
            return result
        response = JSONResponse(result)
        if not self.config.is_legacy:
            set_token_cookies(response, result, refresh_seconds=self.config.refresh_token_days * 86400)
        return response


def routes(state: SandboxState) -> list[Route]:
    return OAuthRoutes(state).routes()
