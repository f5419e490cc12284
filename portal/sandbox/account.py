"""The signed-in user's own endpoints: userinfo, profile, logout and token revocation
(PROTOCOL.md 3.7-3.9 and 9.2)."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from portal.sandbox.auth import authenticate, bearer_token, clear_token_cookies, unauthorized
from portal.sandbox.bodies import is_form, read_fields
from portal.sandbox.errors import bare_error, tmi_error
from portal.sandbox.oauth import oauth_error
from portal.sandbox.state import SandboxState, SandboxUser

REVOKE_FIELDS = {"token", "token_type_hint", "client_id", "client_secret"}
TOKEN_TYPE_HINTS = ("access_token", "refresh_token")


def legacy_profile(user: SandboxUser) -> dict[str, Any]:
    """0.217's `UserWithAdminStatus`, returned by both /oauth2/userinfo and /users/me."""
    return {**user.principal(), "is_admin": user.is_admin}


def profile(user: SandboxUser) -> dict[str, Any]:
    """1.8's GET /me body. Groups are always listed, as TMI-managed group memberships."""
    return {
        **user.principal(),
        "is_admin": user.is_admin,
        "is_security_reviewer": user.is_security_reviewer,
        "groups": [
            {
                "internal_uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"tmi-group:{name}")),
                "group_name": name,
                "name": name,
            }
            for name in user.groups
        ],
    }


def oidc_userinfo(user: SandboxUser) -> dict[str, Any]:
    info: dict[str, Any] = {
        "sub": user.provider_id,
        "email": user.email,
        "name": user.display_name,
        "idp": user.provider,
    }
    if user.groups:
        info["groups"] = list(user.groups)
    return info


class AccountRoutes:
    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.legacy = state.config.is_legacy

    def routes(self) -> list[Route]:
        common = [
            Route("/oauth2/userinfo", self.userinfo, methods=["GET"]),
            Route("/oauth2/revoke", self.revoke_legacy if self.legacy else self.revoke, methods=["POST"]),
        ]
        if self.legacy:
            return [*common, Route("/users/me", self.me, methods=["GET"])]
        return [*common, Route("/me", self.me, methods=["GET"]), Route("/me/logout", self.logout, methods=["POST"])]

    async def userinfo(self, request: Request) -> Response:
        user = authenticate(self.state, request)
        if user is None:
            return unauthorized(self.state)
        return JSONResponse(legacy_profile(user) if self.legacy else oidc_userinfo(user))

    async def me(self, request: Request) -> Response:
        user = authenticate(self.state, request)
        if user is None:
            return unauthorized(self.state)
        return JSONResponse(legacy_profile(user) if self.legacy else profile(user))

    async def logout(self, request: Request) -> Response:
        """1.8: blacklist the presented access token; the refresh token stays valid."""
        token = bearer_token(self.state, request)
        if not token:
            return tmi_error(self.state, 401, "unauthorized", "Missing or invalid authentication")
        if not self.state.revoke_access_token(token):
            return tmi_error(self.state, 401, "unauthorized", "Invalid token")
        response = Response(status_code=204)
        clear_token_cookies(response)
        return response

    async def revoke(self, request: Request) -> Response:
        """1.8, RFC 7009: any valid Bearer authenticates the caller; unknown tokens still get 200 {}."""
        fields = await read_fields(request)
        if fields is None:
            return tmi_error(self.state, 400, "invalid_input", "Request body must be a JSON object")
        unknown = sorted(set(fields) - REVOKE_FIELDS)
        if unknown:
            if is_form(request):
                return oauth_error(400, "invalid_request", f"Unknown parameter: {unknown[0]}")
            return tmi_error(self.state, 400, "invalid_input", f'property "{unknown[0]}" is unsupported')
        if (
            authenticate(self.state, request) is None
            and self.state.credential_check(str(fields.get("client_id") or ""), str(fields.get("client_secret") or ""))
            is None
        ):
            return oauth_error(401, "invalid_client", "Client authentication failed")
        token, hint = fields.get("token"), fields.get("token_type_hint")
        if not token:
            return oauth_error(400, "invalid_request", "Missing required parameter: token")
        if hint and hint not in TOKEN_TYPE_HINTS:
            return oauth_error(400, "invalid_request", "token_type_hint must be access_token or refresh_token")
        if hint in (None, "", "access_token"):
            self.state.revoke_access_token(token)
        if hint in (None, "", "refresh_token"):
            self.state.refresh_tokens.pop(token, None)
        return JSONResponse({})

    async def revoke_legacy(self, request: Request) -> Response:
        """0.217's logout: blacklist the Bearer token itself."""
        if "authorization" not in request.headers:
            return bare_error(400, {"error": "Missing Authorization header"})
        token = bearer_token(self.state, request)
        if not token or not self.state.revoke_access_token(token):
            return bare_error(401, {"error": "Invalid token"})
        return JSONResponse({"message": "Logged out successfully"})


def routes(state: SandboxState) -> list[Route]:
    return AccountRoutes(state).routes()
