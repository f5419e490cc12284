"""1.8's `/me/client_credentials`: a user's service-account credentials (PROTOCOL.md 3.5; OpenAPI
createCurrentUserClientCredential, listCurrentUserClientCredentials, deleteCurrentUserClientCredential).

The secret is shown once, in the create response, and kept only as a hash. Only administrators and
security reviewers may create credentials (403 for anyone else, as the real 1.8.22 answers); the
sandbox's administrators are its `administrators` setting (`--administrator HINT`). Listing is open to
everybody (an ordinary user sees `{credentials: [], total: 0}`). Deleting a credential stops new grants;
tokens already issued keep working until they expire, as on the real server (state.service_account_owner).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.responses import Response

from portal.sandbox.rest.pipeline import Call, Operation, forbidden, invalid_input, not_found
from portal.sandbox.state import ServiceCredential

COLLECTION = "/me/client_credentials"
ITEM = "/me/client_credentials/{credential_id}"


def _info(record: ServiceCredential) -> dict[str, Any]:
    """`ClientCredentialInfo`: everything but the secret."""
    body: dict[str, Any] = {
        "id": record.id,
        "client_id": record.client_id,
        "name": record.name,
        "is_active": True,
        "created_at": record.created_at,
        "modified_at": record.created_at,
    }
    if record.description:
        body["description"] = record.description
    if record.expires_at_text:
        body["expires_at"] = record.expires_at_text
    if record.last_used_at:
        body["last_used_at"] = record.last_used_at
    return body


NOT_PRIVILEGED = "Only administrators and security reviewers can create client credentials"


def may_create(call: Call) -> bool:
    user = call.user
    return user.is_admin or user.is_security_reviewer or user.provider_id in call.state.config.administrators


def create_credential(call: Call) -> Response:
    if call.service_account is not None:
        raise forbidden(call.state, "Service accounts cannot create client credentials")
    if not may_create(call):
        raise forbidden(call.state, NOT_PRIVILEGED)
    body = call.body
    expires_text = body.get("expires_at")
    expires_at = None
    if expires_text is not None:
        try:
            expires_at = datetime.fromisoformat(str(expires_text).replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise invalid_input("expires_at must be an RFC 3339 date-time") from None
        if expires_at <= call.state.now():
            raise invalid_input("expires_at must be in the future")
    record, secret = call.state.credential_create(
        call.user,
        name=body["name"],
        description=body.get("description") or "",
        expires_at=expires_at,
        expires_at_text=expires_text,
    )
    view = {k: v for k, v in _info(record).items() if k not in ("is_active", "modified_at", "last_used_at")}
    return call.json({**view, "client_secret": secret}, 201)


def _owned(call: Call) -> list[ServiceCredential]:
    return sorted(
        (c for c in call.state.credentials.values() if c.owner_uuid == call.user.internal_uuid),
        key=lambda c: c.created_at,
    )


def list_credentials(call: Call) -> Response:
    limit, offset = int(call.query.get("limit") or 20), int(call.query.get("offset") or 0)
    owned = _owned(call)
    return call.json(
        {
            "credentials": [_info(c) for c in owned[offset : offset + limit]],
            "total": len(owned),
            "limit": limit,
            "offset": offset,
        }
    )


def delete_credential(call: Call) -> Response:
    record = call.state.credentials.get(call.params["credential_id"])
    if record is None or record.owner_uuid != call.user.internal_uuid:
        raise not_found("Client credential not found")
    del call.state.credentials[record.id]  # no new grants; issued tokens live on (state.service_account_owner)
    return call.no_content()


def operations() -> list[tuple[str, list[Operation]]]:
    return [
        (
            COLLECTION,
            [
                Operation(COLLECTION, "GET", list_credentials, None),
                Operation(COLLECTION, "POST", create_credential, None),
            ],
        ),
        (ITEM, [Operation(ITEM, "DELETE", delete_credential, None)]),
    ]
