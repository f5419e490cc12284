"""Collaboration sessions over REST, and the URL of a session's WebSocket (PROTOCOL.md 6, 7.1, 9.4, 9.5)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from portal.tmi import _http
from portal.tmi.calls import Call, Flow, as_model, json_body, no_content, server_profile
from portal.tmi.errors import Conflict, Forbidden, NotFound, NotSupported, Unauthorized
from portal.tmi.models import CollaborationSession
from portal.tmi.resources.base import Resource, operation

_WS_SCHEMES = {"http": "ws", "https": "wss"}


def _session(response: _http.Response) -> CollaborationSession:
    session = CollaborationSession.model_validate(json_body(response))
    session.created = response.status_code == 201
    return session


def _ticket(response: _http.Response) -> str:
    body = json_body(response)
    if not isinstance(body, dict) or not isinstance(body.get("ticket"), str):
        raise TypeError('expected {"ticket": "..."}')
    return body["ticket"]


def _is_no_session(error: NotFound) -> bool:
    """1.8 answers 404 "No active collaboration session..." without a session, and 404 "Diagram not found
    ..." for a wrong diagram: only the first means "none"."""
    return "session" in error.error_description.lower()


def with_query(url: str, **params: str) -> str:
    """`url` with `params` set in its query string (replacing keys it already has)."""
    parts = urlsplit(url)
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    return urlunsplit(parts._replace(query=urlencode([*pairs, *params.items()])))


class Collaboration(Resource):
    @staticmethod
    def _path(threat_model_id: str, diagram_id: str) -> str:
        return f"/threat_models/{threat_model_id}/diagrams/{diagram_id}/collaborate"

    def _exchange(self, method: str, threat_model_id: str, diagram_id: str, parse: Any) -> Flow[Any]:
        profile = yield from server_profile()
        try:
            return (yield Call(method, self._path(threat_model_id, diagram_id), parse))
        except Unauthorized as exc:
            # 0.217 answers a missing read permission here with 401 (PROTOCOL.md 9.4): it is a 403.
            if profile.collaborate_denied_status == 401 and "permission" in exc.error_description.lower():
                raise exc.recast(Forbidden) from exc
            raise

    def _get(self, threat_model_id: str, diagram_id: str) -> Flow[CollaborationSession | None]:
        try:
            session = yield from self._exchange("GET", threat_model_id, diagram_id, _session)
        except NotFound as exc:
            if _is_no_session(exc):
                return None
            raise
        return session if session.session_id else None  # 0.217: 200 with session_id null

    get = operation(_get)

    @operation
    def start_or_join(self, threat_model_id: str, diagram_id: str) -> Flow[CollaborationSession]:
        """POST: 201 creates a session (`created` is True), 200 returns the live one. TMI never answers
        409 and has no PUT (PROTOCOL.md 10.3); a 409 from some other server is met by GETting the session
        rather than the guide's PUT. The caller joins by connecting the WebSocket."""
        try:
            return (yield from self._exchange("POST", threat_model_id, diagram_id, _session))
        except Conflict:
            session = yield from self._get(threat_model_id, diagram_id)
            if session is None:
                raise
            return session

    @operation
    def leave(self, threat_model_id: str, diagram_id: str) -> Flow[None]:
        """DELETE (204 in every case). For the host this ends the session for everyone."""
        return (yield from self._exchange("DELETE", threat_model_id, diagram_id, no_content))

    @operation
    def sessions(self) -> Flow[list[CollaborationSession]]:
        """Live sessions the caller can read: /me/sessions (1.8) or /collaboration/sessions (0.217)."""
        profile = yield from server_profile()
        return (yield Call("GET", profile.sessions_path, as_model(list[CollaborationSession])))

    def _ticket(self, session_id: str, access_token: str | None = None) -> Flow[str]:
        profile = yield from server_profile()
        if profile.ws_auth != "ticket":
            raise NotSupported(f"TMI {profile.name} has no WebSocket tickets; it takes ?token=<jwt>")
        return (yield Call("GET", "/ws/ticket", _ticket, params={"session_id": session_id}, bearer=access_token))

    ticket = operation(_ticket)

    @operation
    def websocket_url(self, session: CollaborationSession, *, access_token: str | None = None) -> Flow[str]:
        """The absolute ws:// or wss:// URL to connect to, credentials included: a fresh single-use
        ticket at 1.8 (PROTOCOL.md 6.3, 7.1), the access JWT at 0.217 (9.5). `access_token` defaults to
        the client's own."""
        profile = yield from server_profile()
        url = session.websocket_url or f"/threat_models/{session.threat_model_id}/diagrams/{session.diagram_id}/ws"
        parts = urlsplit(urljoin(self._client.base_url + "/", url))
        url = urlunsplit(parts._replace(scheme=_WS_SCHEMES.get(parts.scheme, parts.scheme)))
        params: dict[str, str] = {}
        if session.session_id and "session_id" not in dict(parse_qsl(parts.query)):
            params["session_id"] = session.session_id
        if profile.ws_auth == "ticket":
            if not session.session_id:
                raise ValueError("a ticket needs a live session (session_id)")
            params["ticket"] = yield from self._ticket(session.session_id, access_token)
        else:
            token = access_token or (self._client.tokens.access_token if self._client.tokens else None)
            if not token:
                raise ValueError("TMI 0.217 WebSockets need an access token")
            params["token"] = token
        return with_query(url, **params)
