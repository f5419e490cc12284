"""Moving an organisation to another TMI server, and members linking themselves back in afterwards.

Who someone is, is their identity at a TMI server (backend.tmi_identity_key), and a TMI server vouches for
nobody by email. So a move cannot simply change the address: nobody would match any more. Instead:

- **The owner's move** is a sign-in at the new server, in the same browser, while signed in to the portal.
  The pending move lives only in that browser's session (`tmi_move_pending_put`; abandoning it changes
  nothing) and rides in that one sign-in attempt's OAuth transaction (backend.py), so the code is exchanged
  at the new server and the identity read there. When TMI sends the browser back, the identity is linked to
  the owner (their TMI account must report their email, as for any link: linking.py) and only then is the
  address switched (organizations.services.organization_tmi_switch), in one transaction with the owner's new
  tokens. Every other member gets a re-link.
- **A member's re-link**: a single-use, expiring link bound to their membership. Following it and signing in
  at the new server links the identity they sign in with (which must report their email) to their existing
  account; their role, schedules and history are untouched, and their paused schedules resume.

Every TMI token of the organisation is forgotten at the switch: they were issued by the old server and must
never be sent to the new one.
"""

from __future__ import annotations

import copy
import secrets
import time

from portal.accounts.models import TMIConnection
from portal.organizations.models import Organization

# In the sign-in attempt (backend.SIGNIN_SESSION_KEY) and then its OAuth transaction.
MOVE_FIELD = "tmi_move"  # the pending move this sign-in finishes (a copy of the session's record)
RELINK_FIELD = "relink"  # the sha256 of the re-link token this sign-in uses
RETURN_FIELD = "return_to"  # where a failed attempt sends the browser back to (a path of ours), if not the sign-in page

MOVE_SESSION_KEY = "tmi_moves_pending"  # {slug: record}: at most one pending move per organisation and browser
MOVE_DONE_SESSION_KEY = "tmi_move_done"  # {slug: what the finished move did}: shown once on the move page
MOVE_LIFETIME_SECONDS = 3600


def tmi_move_pending_put(
    session, *, organization: Organization, by, tmi_base_url: str, identity_providers: list[str], generation: str = ""
) -> dict:
    """Remember in this browser that `by` is moving the organisation (replacing an earlier pending move)."""
    record = {
        "id": secrets.token_urlsafe(16),
        "by": by.pk,
        "from": organization.tmi_base_url.rstrip("/"),
        "tmi_base_url": tmi_base_url.strip().rstrip("/"),
        "identity_providers": sorted(set(identity_providers)),
        "generation": generation,
        "started_at": time.time(),
    }
    moves = dict(session.get(MOVE_SESSION_KEY) or {})
    moves[organization.slug] = record
    session[MOVE_SESSION_KEY] = moves
    return record


def tmi_move_pending_get(session, *, organization: Organization, user) -> dict | None:
    """The pending move of this organisation in this browser, if `user` started it, it is not too old and the
    organisation is still where it was when it started."""
    record = (session.get(MOVE_SESSION_KEY) or {}).get(organization.slug)
    if not isinstance(record, dict) or record.get("by") != getattr(user, "pk", None):
        return None
    if time.time() - float(record.get("started_at") or 0) > MOVE_LIFETIME_SECONDS:
        return None
    if record.get("from") != organization.tmi_base_url.rstrip("/"):
        return None
    return record


def tmi_move_pending_matches(session, *, organization: Organization, move: dict) -> bool:
    """Is `move` (from a sign-in's OAuth transaction) still the pending move of this browser? Not when it was
    cancelled, finished, replaced by a newer one or is too old."""
    record = (session.get(MOVE_SESSION_KEY) or {}).get(organization.slug)
    return (
        isinstance(record, dict)
        and isinstance(move, dict)
        and record.get("id") == move.get("id")
        and time.time() - float(record.get("started_at") or 0) <= MOVE_LIFETIME_SECONDS
    )


def tmi_move_pending_clear(session, *, organization: Organization) -> None:
    moves = dict(session.get(MOVE_SESSION_KEY) or {})
    if moves.pop(organization.slug, None) is not None:
        session[MOVE_SESSION_KEY] = moves


def organization_at(organization: Organization, move: dict) -> Organization:
    """The organisation as it will be after `move`: the same row, at the new address with the providers the
    move keeps. For talking to the new server only; never saved (the switch saves the real row)."""
    moved = copy.copy(organization)
    moved.tmi_base_url = move["tmi_base_url"]
    moved.identity_providers = list(move.get("identity_providers") or [])
    return moved


def tmi_connections_forget(organization: Organization) -> None:
    """Registered with organizations.organization_tmi_switched_subscribe (apps.py): at a move, every member's
    tokens belong to the old server; they are deleted, never sent to the new one."""
    TMIConnection.objects.filter(organization_id=organization.pk).delete()
