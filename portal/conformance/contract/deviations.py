"""Accepted deviations: where the real TMI server's code disagrees with its own published contract.

The sandbox follows the code (PROTOCOL.md wins). Each entry names the PROTOCOL.md section that documents the
behaviour and matches only that behaviour: its channel, operation, failing keyword and location are pinned, so
it cannot excuse anything else. Never add an entry to make a test pass when the sandbox is simply wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from portal.conformance.contract.violations import Violation, ViolationPattern


@dataclass(frozen=True)
class Deviation:
    id: str
    section: str  # the PROTOCOL.md section that documents what the code does, or "preamble"
    reason: str
    pattern: ViolationPattern
    # Only when the same exchange also has a violation like this one (the marker of the documented case).
    requires: ViolationPattern | None = None

    def excuses(self, violation: Violation, same_exchange: list[Violation]) -> bool:
        return self.pattern.matches(violation) and (
            self.requires is None or any(self.requires.matches(other) for other in same_exchange)
        )


def unexpected_properties(*names: str) -> str:
    """A message regex for "exactly these properties were unexpected", in any order (validators list a set)."""
    present = "".join(f"(?=.*'{re.escape(name)}')" for name in names)
    verb = "was" if len(names) == 1 else "were"
    names_list = rf"'[^']+'(, '[^']+'){{{len(names) - 1}}}"
    return rf"^Additional properties are not allowed \({present}{names_list} {verb} unexpected\)$"


LEGACY = ("0.217",)
HEAD = ("1.8",)

# operation_rejected.reason strings the code sends that the AsyncAPI enum lacks (PROTOCOL.md 7.4 table).
_CODE_ONLY_REJECTION_REASONS = "|".join(
    (
        "empty_cell_operations",
        "invalid_cell_operation",
        "cell_already_exists",
        "add_requires_cell_data",
        "update_requires_cell_data",
        "update_nonexistent_cell",
        "cell_not_found_in_diagram",
        "save_failed",
    )
)
# 4097..65536 bytes: over the AsyncAPI's 4 KB but within the code's 64 KiB read limit.
_UP_TO_64_KIB = r"(409[7-9]|4[1-9]\d\d|[5-9]\d{3}|[1-5]\d{4}|6[0-4]\d{3}|65[0-4]\d\d|655[0-2]\d|6553[0-6])"

# The code's User (principal_type, provider, provider_id, display_name, email) where the 0.217 AsyncAPI's closed
# User has user_id, email and displayName (PROTOCOL.md 9.5: identities are the server's User objects).
_CODE_USER_IN_LEGACY_SCHEMA = unexpected_properties("principal_type", "provider", "provider_id", "display_name")
_LEGACY_USER_FIELDS = (
    ("ws-receive", "current_presenter", "current_presenter"),
    ("ws-receive", "participant_joined", "joined_user"),
    ("ws-receive", "participant_left", "departed_user"),
    ("ws-receive", "presenter_denied", "current_presenter"),
    # targets are found by provider_id, which the AsyncAPI's User cannot carry
    ("ws-send", "remove_participant", "removed_user"),
    ("ws-send", "change_presenter", "new_presenter"),
)
# 0.217 does not truncate timestamps (PROTOCOL.md preamble: "HEAD truncates them to microseconds"); its spec caps
# date-times at 24 characters (milliseconds).
_FINE_TIMESTAMP = r"^'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{4,9}Z' is too long$"
_TIMESTAMP_FIELD = r"body(/\w+)*/(created_at|modified_at|status_updated|last_activity)"

_DIAGRAM = "/threat_models/{threat_model_id}/diagrams/{diagram_id}"
_COLLABORATE = "GET /threat_models/{threat_model_id}/diagrams/{diagram_id}/collaborate"
_NULL_SESSION_ID = ViolationPattern(
    "response",
    "type",
    _COLLABORATE,
    "body/session_id",
    r"^None is not of type 'string'$",
    status=200,
    generations=LEGACY,
)
_CHILD_ID_PARAMETERS = {
    "threats": "threat_id",
    "diagrams": "diagram_id",
    "documents": "document_id",
    "assets": "asset_id",
    "notes": "note_id",
    "repositories": "repository_id",
}
_METADATA_COLLECTIONS = [(None, "/threat_models/{threat_model_id}/metadata")] + [
    (kind, f"/threat_models/{{threat_model_id}}/{kind}/{{{parameter}}}/metadata")
    for kind, parameter in _CHILD_ID_PARAMETERS.items()
]

DEVIATIONS: tuple[Deviation, ...] = (
    # --- cross-cutting -----------------------------------------------------------------------------------
    Deviation(
        "legacy-timestamp-precision",
        "preamble",
        "0.217 sends sub-millisecond timestamps; its spec's date-time maxLength is 24",
        ViolationPattern("response", "maxLength", None, _TIMESTAMP_FIELD, _FINE_TIMESTAMP, generations=LEGACY),
    ),
    # --- discovery ---------------------------------------------------------------------------------------
    Deviation(
        "legacy-api-version",
        "9.1",
        '0.217 reports api.version "1.0.0"; its spec\'s pattern is over-escaped (\\\\.) and matches no version',
        ViolationPattern(
            "response",
            "pattern",
            "GET /",
            "body/api/version",
            r"^'1\.0\.0' does not match",
            status=200,
            generations=LEGACY,
        ),
    ),
    Deviation(
        "legacy-build-string",
        "9.1",
        "0.217 service.build is <version>-<commit> with commit 'development' in dev builds; the spec wants a "
        "7-character commit (and its pattern is over-escaped)",
        ViolationPattern(
            "response",
            "pattern",
            "GET /",
            "body/service/build",
            r"^'0\.217\.\d+-[A-Za-z0-9]+' does not match",
            status=200,
            generations=LEGACY,
        ),
    ),
    Deviation(
        "root-time-nanoseconds",
        "1.1",
        "the real 1.8.22 and 0.217.8 send status.time with nanoseconds (seen 2026-12-04); their specs' pattern "
        "allows at most 6 fraction digits",
        ViolationPattern(
            "response",
            "pattern",
            "GET /",
            "body/status/time",
            r"^'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7,9}Z' does not match",
            status=200,
            generations=("1.8", "0.217"),
        ),
    ),
    Deviation(
        "build-commit-length",
        "1.1",
        'the real 1.8.22 development build says service.build "1.8.22-05517d8c" (an 8-character commit, seen '
        "2026-12-04); its spec's pattern wants 7",
        ViolationPattern(
            "response",
            "pattern",
            "GET /",
            "body/service/build",
            r"^'1\.8\.\d+-[0-9a-f]{8}' does not match",
            status=200,
            generations=HEAD,
        ),
    ),
    Deviation(
        "trailing-slash-redirect",
        "12",
        "1.8 answers GET /threat_models/ with 301 to /threat_models; the document has no such path, and its "
        "path matcher takes the slash for GET /threat_models/{threat_model_id} with an empty id",
        ViolationPattern(
            "response", "undeclared-status", "GET /threat_models/{threat_model_id}", "", status=301, generations=HEAD
        ),
    ),
    # --- auth ------------------------------------------------------------------------------------------
    Deviation(
        "legacy-userinfo-tmi-shape-fields",
        "9.2",
        "0.217 /oauth2/userinfo answers the TMI user shape, not the spec's {id, email, name, ...}",
        ViolationPattern(
            "response",
            "additionalProperties",
            "GET /oauth2/userinfo",
            "body",
            unexpected_properties("principal_type", "provider", "provider_id", "display_name", "is_admin"),
            status=200,
            generations=LEGACY,
        ),
    ),
    Deviation(
        "legacy-userinfo-tmi-shape-required",
        "9.2",
        "the TMI user shape has provider_id and display_name instead of the spec's required id and name",
        ViolationPattern(
            "response",
            "required",
            "GET /oauth2/userinfo",
            "body",
            r"^'(id|name)' is a required property$",
            status=200,
            generations=LEGACY,
        ),
    ),
    Deviation(
        "legacy-refresh-error-without-description",
        "9.2",
        'a refused 0.217 refresh answers 400 {"error": "Failed to refresh token: ..."} only',
        ViolationPattern(
            "response",
            "required",
            "POST /oauth2/refresh",
            "body",
            r"^'error_description' is a required property$",
            status=400,
            generations=LEGACY,
        ),
    ),
    Deviation(
        "legacy-logout-200",
        "9.2",
        '0.217 logout (POST /oauth2/revoke) answers 200 {"message": ...}; its spec declares 204',
        ViolationPattern("response", "undeclared-status", "POST /oauth2/revoke", "", status=200, generations=LEGACY),
    ),
    # --- REST --------------------------------------------------------------------------------------------
    *(
        Deviation(
            f"legacy-metadata-conflict-{kind or 'threat_model'}",
            "5.6",
            "an existing metadata key gives 409 (9.3 lists no difference at 0.217); the 0.217 spec lacks 409",
            ViolationPattern("response", "undeclared-status", f"POST {path}", "", status=409, generations=LEGACY),
        )
        for kind, path in _METADATA_COLLECTIONS
    ),
    *(
        Deviation(
            f"legacy-live-session-conflict-{method.lower()}-{'diagram' if 'diagram_id' in path else 'tm'}",
            "9.3",
            "0.217 refuses diagram writes and threat-model deletes during a live session with 409, as 1.8 does; "
            "its spec does not declare 409 there",
            ViolationPattern("response", "undeclared-status", f"{method} {path}", "", status=409, generations=LEGACY),
        )
        for method, path in (
            ("PUT", _DIAGRAM),
            ("PATCH", _DIAGRAM),
            ("DELETE", _DIAGRAM),
            ("DELETE", "/threat_models/{threat_model_id}"),
        )
    ),
    Deviation(
        "threat-type-optional",
        "5.3",
        "the real 1.8.22 creates a threat without threat_type (201, stored as []; seen 2026-12-04, where PROTOCOL.md "
        "5.3 says required); its spec requires it, so a request that leaves it out breaks the spec but not the server",
        ViolationPattern(
            "request",
            "required",
            "POST /threat_models/{threat_model_id}/threats",
            "body",
            r"^'threat_type' is a required property$",
            status=201,
            generations=HEAD,
        ),
    ),
    Deviation(
        "legacy-child-metadata-null",
        "9.3",
        "the real 0.217.8 answers a document, asset, note or repository with metadata: null when it has none "
        "(seen 2026-12-04; PROTOCOL.md 9.3 does not say it yet); its spec says an array",
        ViolationPattern(
            "response",
            "type",
            None,
            r"body(/\d+)?/metadata",
            r"^None (for not nullable|is not of type 'array')$",
            generations=LEGACY,
        ),
    ),
    Deviation(
        "legacy-note-list-content",
        "9.3",
        "the real 0.217.8 lists notes with their content (seen 2026-12-04; PROTOCOL.md 9.3 does not say it yet); its "
        "NoteListItem leaves content out",
        ViolationPattern(
            "response",
            "additionalProperties",
            "GET /threat_models/{threat_model_id}/notes",
            r"body/\d+",
            unexpected_properties("content"),
            status=200,
            generations=LEGACY,
        ),
    ),
    # --- collaboration REST ------------------------------------------------------------------------------
    Deviation(
        "me-sessions-is-an-array",
        "6.4",
        "GET /me/sessions returns [CollaborationSession]; the 1.8 spec says an object",
        ViolationPattern(
            "response", "type", "GET /me/sessions", "body", r"is not of type 'object'$", status=200, generations=HEAD
        ),
    ),
    *(
        Deviation(
            f"legacy-collaborate-no-session-{name}",
            "9.4",
            "0.217 GET /collaborate without a session: 200 {session_id: null, ...} instead of a session",
            ViolationPattern("response", keyword, _COLLABORATE, location, message, status=200, generations=LEGACY),
            requires=_NULL_SESSION_ID,
        )
        for name, keyword, location, message in (
            ("null-id", "type", "body/session_id", r"^None (is not of type 'string'|for not nullable)$"),
            (
                "no-host-or-names",
                "required",
                "body",
                r"^'(host|threat_model_name|diagram_name)' is a required property$",
            ),
        )
    ),
    Deviation(
        "legacy-collaborate-join-200",
        "9.4",
        "POST /collaborate answers 200 with the existing session; the 0.217 spec declares only 201 (and 409)",
        ViolationPattern(
            "response",
            "undeclared-status",
            "POST /threat_models/{threat_model_id}/diagrams/{diagram_id}/collaborate",
            "",
            status=200,
            generations=LEGACY,
        ),
    ),
    # --- WebSocket ---------------------------------------------------------------------------------------
    *(
        Deviation(
            f"legacy-user-shape-{channel}-{message_type}",
            "9.5",
            "0.217 messages carry the server's User object, not the AsyncAPI's {user_id, email, displayName}",
            ViolationPattern(
                channel, "additionalProperties", message_type, field, _CODE_USER_IN_LEGACY_SCHEMA, generations=LEGACY
            ),
        )
        for channel, message_type, field in _LEGACY_USER_FIELDS
    ),
    Deviation(
        "legacy-host-sends-presenter-denied",
        "9.5",
        "the 0.217 host denies a request by sending presenter_denied; the AsyncAPI lists it as server-sent only",
        ViolationPattern("ws-send", "unknown-message-type", "presenter_denied", "message_type", generations=LEGACY),
    ),
    Deviation(
        "legacy-presenter-request-forwarded",
        "9.5",
        "0.217 forwards a participant's raw presenter_request to the host; the AsyncAPI has no such event",
        ViolationPattern("ws-receive", "unknown-message-type", "presenter_request", "message_type", generations=LEGACY),
    ),
    Deviation(
        "base-vector-optional",
        "7.4",
        "base_vector is required by the AsyncAPI but ignored by the code; clients may leave it out",
        ViolationPattern(
            "ws-send",
            "required",
            "diagram_operation_request",
            "",
            r"^'base_vector' is a required property$",
            generations=HEAD,
        ),
    ),
    Deviation(
        "rejection-reason-strings",
        "7.4",
        "operation_rejected.reason carries the code's validation strings, not the AsyncAPI enum",
        ViolationPattern(
            "ws-receive", "enum", "operation_rejected", "reason", rf"^'({_CODE_ONLY_REJECTION_REASONS})' is not one of"
        ),
    ),
    Deviation(
        "authorization-denied-empty-operation-id",
        "7.4",
        'authorization_denied is sent before the request is parsed, so original_operation_id is ""',
        ViolationPattern(
            "ws-receive", "format", "authorization_denied", "original_operation_id", r"^'' is not a 'uuid'$"
        ),
    ),
    Deviation(
        "history-operation-not-in-1.8-asyncapi",
        "7.3",
        "1.8 still sends history_operation for undo/redo failures; its AsyncAPI dropped the message",
        ViolationPattern("ws-receive", "unknown-message-type", "history_operation", "message_type", generations=HEAD),
    ),
    *(
        Deviation(
            f"frame-limit-64-kib-{generation}",
            "7.11",
            "the code's read limit is 64 KiB (also at 0.217, 9.5); the AsyncAPI says 4 KB per message",
            ViolationPattern(
                "ws-send",
                "frame-size",
                operation,
                "frame",
                rf"^{_UP_TO_64_KIB} bytes > 4096$",
                generations=(generation,),
            ),
        )
        for generation, operation in (("1.8", "diagram_operation_request"), ("0.217", "diagram_operation"))
    ),
)
