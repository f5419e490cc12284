"""Members for the benchmarks: a portal user in the organisation whose TMI tokens, minted at the sandbox (not an
auth-flow call), sit in the vault as a sign-in would have left them."""

from __future__ import annotations


def bench_member_add(organization, sandbox, hint: str):
    """(user, connection, tokens) of a new member signed in at the sandbox's test provider as `hint`."""
    from django.contrib.auth import get_user_model

    from portal.accounts.vault import tmi_connection_store
    from portal.sandbox import builtin_idp
    from portal.tmi import TokenPair

    state = sandbox.state
    user = get_user_model().objects.create(username=hint, email=f"{hint}@bench.test")
    organization.memberships.create(user=user, role="member")
    who = builtin_idp.identity_for(state.config, hint)
    tmi_user = state.user_for_login(
        provider=who.provider, provider_id=who.provider_id, email=who.email, display_name=who.display_name
    )
    tokens = TokenPair(**state.issue_tokens(tmi_user))
    connection = tmi_connection_store(
        organization=organization, user=user, tokens=tokens, provider="tmi", subject=who.provider_id
    )
    return user, connection, tokens
