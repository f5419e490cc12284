"""Django's database sessions, each read in one plain row read (portal/row_reads.py): every page and socket
loads its session first. Saving, expiry and flushing are Django's own."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.contrib.sessions.backends import db
from django.utils import timezone

from portal.row_reads import row_get


class SessionStore(db.SessionStore):
    def _get_session_from_db(self):
        session = row_get(self.model, session_key=self.session_key) if self.session_key else None
        if session is None or session.expire_date <= timezone.now():
            self._session_key = None  # as Django's: a new session gets a new key, never this one
            return None
        return session

    async def _aget_session_from_db(self):
        return await sync_to_async(self._get_session_from_db)()
