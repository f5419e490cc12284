"""The social-auth backend "tmi": sign in through one organisation's TMI server.

Per organisation: the sign-in page (signin.py) puts the organisation, the chosen provider and
the login hint in the session; `auth_url` reads them, asks that organisation's TMI for its
providers and builds TMI's authorize URL with PKCE S256 and a state. social-core keeps the state
and the verifier in a per-state session transaction; we add the organisation and provider to it,
so the callback exchanges the code at the TMI the attempt started with, whatever happened to the
session's latest attempt meanwhile.

Tokens never reach social-auth's storage: the pipeline gets them as the `tokens` argument and
hands them to the token vault; `extra_data` keeps nothing.
"""

from __future__ import annotations

import hashlib
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from social_core.backends.oauth import BaseOAuth2PKCE
from social_core.exceptions import AuthInputError, AuthSessionError

from portal.accounts.errors import PROVIDER_UNKNOWN, SESSION_LOST, SignInError
from portal.accounts.linking import LINK_FIELD
from portal.accounts.moving import MOVE_FIELD, RELINK_FIELD, RETURN_FIELD, organization_at
from portal.accounts.selectors import providers_offered
from portal.accounts.signin_waiting import SignInBusy, signin_waiting_keep, signin_waiting_take
from portal.accounts.vault import tmi_client_options
from portal.organizations.models import Organization
from portal.organizations.tmi_budget import Purpose
from portal.row_reads import row_get
from portal.tmi import MalformedResponse, RateLimited, TMIClient, TokenPair, pkce

# {"organization": slug, "provider": id, "login_hint": str, LINK_FIELD: pk, and for a move or a re-link (moving.py)
# MOVE_FIELD: the pending move, RELINK_FIELD: the re-link token's hash, RETURN_FIELD: where a failure goes back to}
SIGNIN_SESSION_KEY = "tmi_signin"
# Set on the request by the view that continues a waiting sign-in (views.complete_continue).
SIGNIN_RESUME_ATTRIBUTE = "tmi_signin_resume"


def tmi_identity_key(organization: Organization, provider: str, subject: str) -> str:
    """Who someone is at a TMI server: the same on every organisation sharing that server."""
    key = f"{organization.tmi_base_url.rstrip('/').lower()}#{provider}:{subject}"
    # UserSocialAuth.uid holds 255 characters; a longer key is kept as its digest.
    return key if len(key) <= 255 else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


class TMIOAuth2(BaseOAuth2PKCE):
    name = "tmi"
    # The callback URL must carry no query: TMI's test IdP appends `?code=&state=` by concatenation.
    REDIRECT_STATE = False
    STATE_PARAMETER = True
    PKCE_DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    DEFAULT_SCOPE = ["openid", "profile", "email"]
    EXTRA_DATA: list = []
    # Each start keeps a state (and its PKCE verifier) in the session until its callback; a session
    # holds at most this many, the oldest dropped (its callback then says "start again").
    PENDING_STATES_MAX = 5

    def get_user(self, user_id):
        """The session's user as social-auth finds it (active, else None), in one plain row read: every page
        and socket asks (portal/row_reads.py)."""
        user = row_get(get_user_model(), pk=user_id)
        return user if user is not None and user.is_active else None

    async def aget_user(self, user_id):
        """Django's async views (request.auser()) look the session's user up through its backend;
        social-core only has the sync lookup."""
        return await sync_to_async(self.get_user)(user_id)

    # -- start -------------------------------------------------------------------------------
    def _attempt(self) -> dict[str, str]:
        attempt = self.strategy.session_get(SIGNIN_SESSION_KEY)
        if not isinstance(attempt, dict) or not attempt.get("organization"):
            raise SignInError(SESSION_LOST)
        return attempt

    @staticmethod
    def _organization(slug: str | None) -> Organization:
        organization = Organization.objects.filter(slug=slug or "").first()
        if organization is None:
            raise SignInError(SESSION_LOST)
        return organization

    @staticmethod
    def _server(organization: Organization, move: dict | None) -> Organization:
        """Where this attempt signs in: the organisation's TMI, or for an owner's move the new one (moving.py)."""
        return organization_at(organization, move) if isinstance(move, dict) else organization

    def auth_url(self) -> str:
        attempt = self._attempt()
        organization = self._server(self._organization(attempt["organization"]), attempt.get(MOVE_FIELD))
        with TMIClient(organization.tmi_base_url, **tmi_client_options(organization)) as client:
            offered = {p.id: p for p in providers_offered(organization, client.auth.providers())}
            provider = offered.get(attempt.get("provider", ""))
            if provider is None:
                raise SignInError(PROVIDER_UNKNOWN)
            state = self.get_or_create_state()
            verifier = self.create_code_verifier(state)
            key = self.transaction_key(state)
            # A link request (linking.py), a move or a re-link (moving.py) belongs to this attempt only: spent
            # with its state.
            self.strategy.session_set(
                key,
                {
                    **self.strategy.session_get(key),
                    "organization": organization.slug,
                    "provider": provider.id,
                    LINK_FIELD: attempt.get(LINK_FIELD),
                    MOVE_FIELD: attempt.get(MOVE_FIELD),
                    RELINK_FIELD: attempt.get(RELINK_FIELD),
                    RETURN_FIELD: attempt.get(RETURN_FIELD),
                },
            )
            return client.auth.authorize_url(
                provider,
                state=state,
                code_challenge=pkce.code_challenge(verifier),
                client_callback=self.redirect_uri,
                login_hint=attempt.get("login_hint") or None,
                scope=" ".join(self.get_scope()),
            )

    def get_or_create_state(self) -> str:
        state = super().get_or_create_state()
        self._pending_states_prune()
        return state

    def _pending_states_prune(self) -> None:
        """Keep the newest PENDING_STATES_MAX transactions (social-core's index lists them oldest first)."""
        index_key = self._transaction_index_key()
        index = self.strategy.session_get(index_key)
        if not isinstance(index, dict) or len(index) <= self.PENDING_STATES_MAX:
            return
        states = list(index)
        for dropped in states[: -self.PENDING_STATES_MAX]:
            self.strategy.session_pop(self.transaction_key(dropped))
        self.strategy.session_set(index_key, {state: index[state] for state in states[-self.PENDING_STATES_MAX :]})

    # -- callback ----------------------------------------------------------------------------
    def auth_complete(self, *args, **kwargs):
        """Check TMI's answer and the state, exchange the code, read the identity, run the pipeline."""
        if getattr(self.strategy.request, SIGNIN_RESUME_ATTRIBUTE, False):
            # The "TMI is busy" page continuing an attempt whose state was checked (and spent) before.
            waiting = signin_waiting_take(self.strategy.request.session)
            if waiting is None:
                raise SignInError(SESSION_LOST)
            transaction, code, verifier = waiting["transaction"], waiting["code"], waiting["verifier"]
        else:
            self.process_error(self.data)  # ?error=access_denied -> AuthCanceled
            state = self.validate_state()  # missing, stale, forged or another browser's -> AuthSessionError
            transaction = self._oauth2_transaction or {}
            verifier = self.get_code_verifier(state)
            code = self.data.get("code")
            if not code or not isinstance(code, str):
                raise AuthInputError(self, parameter="code", code="missing_parameter", stage="callback")
        # For a move, everything from here on talks to the new server, and its identity is one there.
        organization = self._server(self._organization(transaction.get("organization")), transaction.get(MOVE_FIELD))
        provider = transaction.get("provider") or ""
        # The code exchange may use the places of the auth-flow budget kept for sign-ins (tmi_budget.py).
        options = tmi_client_options(organization, purpose=Purpose.SIGN_IN)
        try:
            with TMIClient(organization.tmi_base_url, **options) as client:
                tokens = client.auth.exchange_code(code, verifier, redirect_uri=self.redirect_uri, idp=provider)
        except RateLimited as error:  # not processed: the code is unspent, the attempt waits (signin_waiting.py)
            busy = SignInBusy(error.retry_after)
            signin_waiting_keep(
                self.strategy.request.session,
                transaction=transaction,
                code=code,
                verifier=verifier,
                retry_after=busy.retry_after,
            )
            raise busy from error
        response = self.user_data(tokens.access_token, organization=organization)
        response["provider"] = response["provider"] or provider
        response["identity"] = tmi_identity_key(organization, response["provider"], response["subject"])
        kwargs.update(
            response=response,
            backend=self,
            organization=organization,
            tokens=tokens,
            link_user=transaction.get(LINK_FIELD),
            tmi_move=transaction.get(MOVE_FIELD),
            relink=transaction.get(RELINK_FIELD),
        )
        return self.strategy.authenticate(*args, **kwargs)

    def user_data(self, access_token: str, *args, organization: Organization | None = None, **kwargs) -> dict[str, Any]:
        """The identity TMI reports (1.8's OIDC shape and 0.217's TMI shape, normalised by UserInfo)."""
        if organization is None:
            raise AuthSessionError(self, code="session_context_missing", stage="callback")
        with TMIClient(
            organization.tmi_base_url,
            auth=TokenPair(access_token=access_token),
            **tmi_client_options(organization),
        ) as client:
            info = client.auth.userinfo()
        if not info.provider_id:
            raise MalformedResponse("TMI's userinfo names no user")
        return {
            "provider": info.provider,
            "subject": info.provider_id,
            "email": info.email.strip().lower(),
            "display_name": info.display_name,
        }

    def get_user_id(self, details: dict[str, Any], response: dict[str, Any]) -> str:
        return response["identity"]

    def get_user_details(self, response: dict[str, Any]) -> dict[str, Any]:
        name = response.get("display_name") or ""
        first, _, last = name.partition(" ")
        return {
            "username": response.get("subject") or "",
            "email": response.get("email") or "",
            "fullname": name,
            "first_name": first[:150],
            "last_name": last[:150],
        }

    def extra_data(self, user, uid, response, details, pipeline_kwargs) -> dict[str, Any]:
        """Nothing: tokens live in the vault, encrypted; social-auth's row holds none."""
        return {}
