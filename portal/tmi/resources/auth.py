"""Signing in and out (PROTOCOL.md 3 for 1.8, 9.2 for 0.217)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urljoin

from portal.tmi import _http
from portal.tmi.calls import Call, Flow, as_model, as_page, json_body, no_content, server_profile
from portal.tmi.errors import BadRequest, ClientCredentialsRefused, NotSupported, RefreshFailed, TMIError, Unauthorized
from portal.tmi.generations import GenerationProfile
from portal.tmi.models import ClientCredential, NewClientCredential, Profile, Provider, TokenPair, UserInfo
from portal.tmi.pagination import Page
from portal.tmi.resources.base import Resource, operation
from portal.tmi.retry import RetryMode

DEFAULT_SCOPE = "openid profile email"


def _providers(response: _http.Response) -> list[Provider]:
    body = json_body(response)
    if not isinstance(body, dict) or not isinstance(body.get("providers"), list):
        raise TypeError('expected {"providers": [...]}')
    return [Provider.model_validate(item) for item in body["providers"]]


class Auth(Resource):
    @operation
    def providers(self) -> Flow[list[Provider]]:
        return (yield Call("GET", "/oauth2/providers", _providers, authenticated=False))

    @operation
    def test_provider(self) -> Flow[Provider]:
        """The built-in test IdP of the server's generation: `tmi` (1.8) or `test` (0.217)."""
        profile = yield from server_profile()
        providers = yield Call("GET", "/oauth2/providers", _providers, authenticated=False)
        for provider in providers:
            if provider.id == profile.test_idp:
                return provider
        raise TMIError(f"the server does not offer the test IdP {profile.test_idp!r}")

    def authorize_url(
        self,
        provider: Provider,
        *,
        state: str,
        code_challenge: str,
        client_callback: str,
        login_hint: str | None = None,
        scope: str = DEFAULT_SCOPE,
    ) -> str:
        """The URL to send the browser to. `auth_url` already carries `?idp=`, so parameters are joined
        with `&` (the guide's second `?` loses the state: PROTOCOL.md 10.2)."""
        params: dict[str, str] = {
            "scope": scope,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
            "state": state,
            "client_callback": client_callback,
        }
        if login_hint:
            params["login_hint"] = login_hint
        base = urljoin(self._client.base_url + "/", provider.auth_url)
        separator = "&" if "?" in base else "?"
        return f"{base}{separator}{urlencode(params)}"

    @operation
    def exchange_code(self, code: str, code_verifier: str, *, redirect_uri: str, idp: str) -> Flow[TokenPair]:
        """POST /oauth2/token (JSON in both generations). Codes are single use: no retry once sent."""
        body = {
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": code_verifier,
            "redirect_uri": redirect_uri,
        }
        return (
            yield Call(
                "POST",
                "/oauth2/token",
                as_model(TokenPair),
                params={"idp": idp},
                json=body,
                authenticated=False,
                retry=RetryMode.CONNECT_ONLY,
            )
        )

    @operation
    def refresh(self, refresh_token: str) -> Flow[TokenPair]:
        """A new pair for a single-use refresh token. A refused token raises `RefreshFailed`
        (1.8: 400 invalid_grant; 0.217: 400 "Failed to refresh token: ...")."""
        profile = yield from server_profile()
        try:
            return (
                yield Call(
                    "POST",
                    profile.refresh_path,
                    as_model(TokenPair),
                    json={"refresh_token": refresh_token},
                    authenticated=False,
                    retry=RetryMode.CONNECT_ONLY,
                )
            )
        except (BadRequest, Unauthorized) as exc:
            raise exc.recast(RefreshFailed) from exc

    # -- service accounts (1.8 only: PROTOCOL.md 3.5) ---------------------------------------------------
    @staticmethod
    def _needs_service_accounts(profile: GenerationProfile) -> None:
        if not profile.client_credentials:
            raise NotSupported(f"TMI {profile.name} does not support client credentials (service accounts)")

    @operation
    def client_credentials(self, client_id: str, client_secret: str) -> Flow[TokenPair]:
        """A token for a service account (`grant_type=client_credentials`). The pair has no refresh token:
        ask again when it runs out. A refused id/secret raises `ClientCredentialsRefused`."""
        profile = yield from server_profile()
        self._needs_service_accounts(profile)
        body = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
        try:
            return (
                yield Call(
                    "POST",
                    "/oauth2/token",
                    as_model(TokenPair),
                    params={"idp": profile.test_idp},
                    json=body,
                    authenticated=False,
                    retry=RetryMode.CONNECT_ONLY,
                )
            )
        except Unauthorized as exc:
            raise exc.recast(ClientCredentialsRefused) from exc

    @operation
    def client_credentials_create(
        self, name: str, *, description: str | None = None, expires_at: str | None = None
    ) -> Flow[NewClientCredential]:
        """A new credential of the signed-in user; the secret in the answer is shown only this once."""
        profile = yield from server_profile()
        self._needs_service_accounts(profile)
        body: dict[str, Any] = {"name": name}
        if description is not None:
            body["description"] = description
        if expires_at is not None:
            body["expires_at"] = expires_at
        return (
            yield Call(
                "POST", "/me/client_credentials", as_model(NewClientCredential), json=body, retry=RetryMode.CONNECT_ONLY
            )
        )

    @operation
    def client_credentials_list(self, *, limit: int = 20, offset: int = 0) -> Flow[Page[ClientCredential]]:
        profile = yield from server_profile()
        self._needs_service_accounts(profile)
        return (
            yield Call(
                "GET",
                "/me/client_credentials",
                as_page(ClientCredential, "credentials", limit=limit, offset=offset),
                params={"limit": limit, "offset": offset},
            )
        )

    @operation
    def client_credentials_delete(self, credential_id: str) -> Flow[None]:
        """Delete by the credential's `id` (not its client_id); its tokens stop working at once."""
        profile = yield from server_profile()
        self._needs_service_accounts(profile)
        yield Call("DELETE", f"/me/client_credentials/{credential_id}", no_content)
        return None

    @operation
    def userinfo(self) -> Flow[UserInfo]:
        return (yield Call("GET", "/oauth2/userinfo", as_model(UserInfo)))

    @operation
    def me(self) -> Flow[Profile]:
        profile = yield from server_profile()
        return (yield Call("GET", profile.profile_path, as_model(Profile)))

    def _revoke(self, token: str, *, token_type_hint: str | None = None, access_token: str | None = None) -> Flow[None]:
        """Revoke a token. 1.8: RFC 7009 (`token`, optional hint), authenticated by a Bearer token.
        0.217 can only blacklist the access token it is called with (`token`, or `access_token`)."""
        profile = yield from server_profile()
        if not profile.rfc7009_revoke:
            yield Call(
                "POST",
                "/oauth2/revoke",
                no_content,
                json={},
                bearer=access_token or token,
                retry=RetryMode.CONNECT_ONLY,
            )
            return None
        body: dict[str, Any] = {"token": token}
        if token_type_hint:
            body["token_type_hint"] = token_type_hint
        yield Call("POST", "/oauth2/revoke", no_content, json=body, bearer=access_token)
        return None

    revoke = operation(_revoke)

    @operation
    def logout(self, tokens: TokenPair | None = None) -> Flow[None]:
        """Sign out. 1.8: revoke the refresh token, then POST /me/logout (blacklists the access token).
        0.217: POST /oauth2/revoke with the Bearer token. `tokens` defaults to the client's own pair."""
        tokens = tokens or self._client.tokens
        if tokens is None:
            raise ValueError("logout needs a token pair")
        profile = yield from server_profile()
        if not profile.rfc7009_revoke:
            yield from self._revoke(tokens.access_token)
            return None
        if tokens.refresh_token:
            yield from self._revoke(
                tokens.refresh_token, token_type_hint="refresh_token", access_token=tokens.access_token
            )
        yield Call("POST", "/me/logout", no_content, bearer=tokens.access_token, retry=RetryMode.CONNECT_ONLY)
        return None
