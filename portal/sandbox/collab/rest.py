"""Collaboration over REST (PROTOCOL.md 6.2-6.4, 9.4), plus the sandbox's socket-drop fault hook and socket list."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from portal.sandbox.auth import authenticate, unauthorized
from portal.sandbox.collab.access import Target, invalid_path_id, is_uuid, resolve
from portal.sandbox.collab.hub import Hub
from portal.sandbox.errors import tmi_error
from portal.sandbox.state import SandboxState


def routes(state: SandboxState) -> list[BaseRoute]:
    hub = Hub.of(state)
    protocol = hub.protocol

    async def collaborate(request: Request) -> Response:
        # There is no PUT (PROTOCOL.md 6.2): http_rules answers 405 for methods the route lacks.
        failure = invalid_path_id(state, request.path_params)
        if failure is not None:
            return failure
        user = authenticate(state, request)
        if user is None:
            return unauthorized(state)
        tm_id, diagram_id = request.path_params["tm_id"], request.path_params["diagram_id"]
        target = resolve(state, user, tm_id, diagram_id, with_groups=True, denied=protocol.collaborate_denied())
        if not isinstance(target, Target):
            return target
        session = hub.session_for(diagram_id)
        if request.method in ("GET", "HEAD"):
            if session is not None:
                return JSONResponse(protocol.session_view(session, user))
            view = protocol.no_session_view(tm_id, diagram_id)
            if view is None:
                return tmi_error(state, 404, "not_found", "No active collaboration session for this diagram")
            return JSONResponse(view)
        if request.method == "POST":
            if session is not None:  # TMI never answers 409 here (PROTOCOL.md 6.2, 10.3)
                return JSONResponse(protocol.session_view(session, user), status_code=200)
            session = hub.create_session(tm_id, diagram_id, user)
            return JSONResponse(protocol.session_view(session, user), status_code=201)
        if session is not None and protocol.is_host(session, user):
            hub.close(session)
        return Response(status_code=204)

    async def session_list(request: Request) -> Response:
        user = authenticate(state, request)
        if user is None:
            return protocol.anonymous_session_list()
        readable = [
            s
            for s in hub.sessions()
            if (tm := state.get_threat_model(s.threat_model_id)) and state.role_of(user, tm) is not None
        ]
        return JSONResponse([protocol.session_view(s) for s in readable])

    async def ws_ticket(request: Request) -> Response:
        session_id = request.query_params.get("session_id")
        if not session_id or not is_uuid(session_id):
            return tmi_error(state, 400, "invalid_input", "session_id query parameter must be a valid UUID")
        user = authenticate(state, request)
        if user is None:
            return unauthorized(state)
        session = next((s for s in hub.sessions() if s.id == session_id), None)
        tm = state.get_threat_model(session.threat_model_id) if session else None
        if tm is None or state.role_of(user, tm) is None:  # 404, not 403: sessions cannot be enumerated
            return tmi_error(state, 404, "not_found", "Collaboration session not found")
        return JSONResponse({"ticket": hub.tickets.issue(user, session_id)}, headers={"Cache-Control": "no-store"})

    async def drop_sockets(request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            body = {}
        diagram_id = body.get("diagram_id") if isinstance(body, dict) else None
        return JSONResponse({"dropped": hub.drop_sockets(diagram_id)})

    async def list_sockets(request: Request) -> Response:
        """Introspection for tests: every collaboration socket the sandbox holds open, so a test can
        tell that a client left nothing behind (TMI caps sockets per user, PROTOCOL.md 7.1)."""
        return JSONResponse(
            {
                "sockets": [
                    {"user": conn.user.provider_id, "diagram_id": session.diagram_id, "session_id": session.id}
                    for session in hub.sessions()
                    for conn in session.connections
                ]
            }
        )

    found = [
        Route(
            "/threat_models/{tm_id}/diagrams/{diagram_id}/collaborate", collaborate, methods=["GET", "POST", "DELETE"]
        ),
        Route(protocol.session_list_path, session_list, methods=["GET"]),
        Route("/_sandbox/sockets/drop", drop_sockets, methods=["POST"]),
        Route("/_sandbox/sockets", list_sockets, methods=["GET"]),
    ]
    if protocol.uses_tickets:
        found.append(Route("/ws/ticket", ws_ticket, methods=["GET"]))
    return found
