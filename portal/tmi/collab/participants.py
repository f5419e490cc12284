"""Who is in the session, as the latest `participants_update` said, in the portal's terms and TMI's.

The browser names people by `user_id` only; the bridge resolves that id here to the TMI user object the
upstream generation requires, exactly as TMI sent it (1.8 compares provider_id, email and display_name
with the real values and disconnects a client that gets them wrong: PROTOCOL.md 7.5).
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass, field
from typing import Any, Protocol

from portal.tmi.collab import frames


@dataclass(frozen=True, slots=True)
class Person:
    id: str  # TMI's provider_id (1.8) / user_id (0.217): the IdP subject
    name: str
    email: str
    tmi: dict[str, Any]  # the user object to send back to TMI
    can_edit: bool | None = None  # None: not known from a source the portal trusts (translate.FetchRoles)

    def frame(self) -> dict[str, str]:
        return frames.person(self.id, self.name, self.email)


def _text(value: Any) -> str:
    # Interned: every session in a room holds everyone's roster, and each roster is parsed afresh from
    # TMI's frames, so without it each name, email and key was stored once per session that saw it.
    return sys.intern(value) if type(value) is str else ""


def person_from_user(user: Any) -> Person | None:
    """A 1.8 `User` (or 0.217's `{user_id, name, email}`) as a Person; None for a missing or empty user."""
    if not isinstance(user, dict):
        return None
    key = tuple(user.items())
    if len(key) > KEPT_FIELDS or not all(_keepable(value) for _, value in key):
        return _person_made(user)  # a list, an object or a long text: made afresh, never kept
    return _person_kept(key)


# Everyone in a room of ten receives each of the room's participant lists, each naming everyone: a thousand
# browsers joining made 50,000 Persons from a few thousand distinct users (2% of daphne's connect work). A Person
# is made from nothing but the user's fields and never changes, so the same fields give the same one,
# whichever session or organisation they came in.
# Only small user objects are kept, so that a TMI server sending thousands of huge ones cannot fill the memory.
PEOPLE_KEPT = 4096
KEPT_FIELDS, KEPT_TEXT = 12, 512


def _keepable(value: Any) -> bool:
    return value is None or type(value) is bool or (type(value) is str and len(value) <= KEPT_TEXT)


@functools.lru_cache(maxsize=PEOPLE_KEPT)
def _person_kept(items: tuple) -> Person | None:
    return _person_made(dict(items))


def _person_made(user: dict[str, Any]) -> Person | None:
    if "user_id" in user and "provider_id" not in user:
        user_id, name, email = _text(user.get("user_id")), _text(user.get("name")), _text(user.get("email"))
        tmi = {"principal_type": "user", "provider_id": user_id, "display_name": name, "email": email}
    else:
        user_id, name, email = (
            _text(user.get("provider_id")),
            _text(user.get("display_name")),
            _text(user.get("email")),
        )
        tmi = {sys.intern(key): sys.intern(value) if type(value) is str else value for key, value in user.items()}
    if not user_id and not email:
        return None
    return Person(user_id or email, name or email or user_id, email, tmi)


@dataclass
class Roster:
    people: list[Person] = field(default_factory=list)
    host: Person | None = None
    presenter: Person | None = None

    def find(self, key: Any) -> Person | None:
        """The participant whose id or email is `key` (0.217 names host and presenter by either)."""
        if not isinstance(key, str) or not key:
            return None
        return next((p for p in self.people if key in (p.id, p.email)), None)

    def lookup(self, key: Any) -> Person | None:
        """`find`, or a bare Person for someone named by a string who is not connected."""
        found = self.find(key)
        if found is None and isinstance(key, str) and key:
            found = Person(key, key, key if "@" in key else "", {"provider_id": key})
        return found

    def frame(self) -> dict[str, Any]:
        return {
            "type": "participants",
            "participants": [{"user": p.frame(), "can_edit": p.can_edit} for p in self.people],
            "host": self.host.frame() if self.host else None,
            "presenter": self.presenter.frame() if self.presenter else None,
        }


class RoleBoard(Protocol):
    """Where the sessions of the people one portal bridges share each one's own role, since TMI's lists
    cannot be trusted for anyone but the caller (translate.FetchRoles)."""

    async def publish(self, user_id: str, can_edit: bool) -> None:
        """Record this session's own role."""

    async def others(self, since: float | None = None) -> tuple[dict[str, bool], bool]:
        """{user id: may edit} of the others bridged into the same diagram, and whether some of them
        have not published theirs yet; read no earlier than `since` (the event loop's clock), when given."""
