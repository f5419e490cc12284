"""Typed views of TMI's responses, accepting both generations' shapes and normalising them.

Every model tolerates extra fields (TMI keeps adding some). Where 0.217 and 1.8 differ (PROTOCOL.md 9),
the 1.8 shape is the normal form: principals are `User` objects, `threat_type` is a list.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, computed_field, field_validator, model_validator

from portal.tmi.cells import Cell

GenerationName = Literal["1.8", "0.217"]
_Item = TypeVar("_Item")
# TMI sends `null` for empty collections in places (0.217 especially): read it as [].
ListOrNull = Annotated[list[_Item], BeforeValidator(lambda value: [] if value is None else value)]


class TMIModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class User(TMIModel):
    """A user principal. 0.217 sends bare strings (an email or a display name) for owner, created_by,
    host and presenter; its WebSocket users are `{user_id, name, email}`. All become this shape."""

    principal_type: str = "user"
    provider: str = ""
    provider_id: str = ""
    display_name: str = ""
    email: str = ""

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"provider_id": data, "display_name": data, "email": data if "@" in data else ""}
        if isinstance(data, dict) and "user_id" in data and "provider_id" not in data:
            return {**data, "provider_id": data["user_id"], "display_name": data.get("name") or ""}
        return data

    @field_validator("provider", "provider_id", "display_name", "email", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return "" if value is None else value


class Authorization(User):
    """An ACL entry: a principal (user or group) and its role."""

    role: str = "reader"


class Metadata(TMIModel):
    key: str
    value: str


class _Entity(TMIModel):
    id: str
    name: str = ""
    description: str | None = None
    created_at: datetime | None = None
    modified_at: datetime | None = None
    alias: int | None = None
    deleted_at: datetime | None = None
    metadata: ListOrNull[Metadata] = Field(default_factory=list)
    # 1.8 optimistic locking: TMI never fills it in GETs; the client sets it from the ETag of a
    # conditional write (PROTOCOL.md 5.1).
    version: int | None = None


class Threat(_Entity):
    threat_model_id: str | None = None
    threat_type: list[str] = Field(default_factory=list)
    severity: str | None = None
    score: float | None = None
    priority: str | None = None
    status: str | None = None
    mitigated: bool | None = None
    mitigation: str | None = None
    diagram_id: str | None = None
    cell_id: str | None = None
    asset_id: str | None = None
    issue_uri: str | None = None

    @field_validator("threat_type", mode="before")
    @classmethod
    def _threat_type_list(cls, value: Any) -> Any:
        # 0.217 sends one string (PROTOCOL.md 9.3).
        if value is None or value == "":
            return []
        return [value] if isinstance(value, str) else value


class Diagram(_Entity):
    type: str = "DFD-1.0.0"
    cells: ListOrNull[Cell] = Field(default_factory=list)
    update_vector: int | None = None
    image: dict[str, Any] | None = None


class Document(_Entity):
    uri: str = ""


class Asset(_Entity):
    type: str | None = None
    criticality: str | None = None
    classification: list[str] | None = None
    sensitivity: str | None = None


class Note(_Entity):
    content: str | None = None  # list items leave it out


class Repository(_Entity):
    uri: str = ""
    type: str | None = None
    parameters: dict[str, Any] | None = None


class TMListItem(_Entity):
    owner: User | None = None
    created_by: User | None = None
    security_reviewer: User | None = None
    threat_model_framework: str | None = None
    status: str | None = None
    status_updated: datetime | None = None
    issue_uri: str | None = None
    document_count: int | None = None
    repo_count: int | None = None
    diagram_count: int | None = None
    threat_count: int | None = None
    asset_count: int | None = None
    note_count: int | None = None


class ThreatModel(TMListItem):
    authorization: ListOrNull[Authorization] = Field(default_factory=list)
    is_confidential: bool | None = None
    project_id: str | None = None
    threats: ListOrNull[Threat] = Field(default_factory=list)
    diagrams: ListOrNull[Diagram] = Field(default_factory=list)
    documents: ListOrNull[Document] = Field(default_factory=list)
    repositories: ListOrNull[Repository] = Field(default_factory=list)
    notes: ListOrNull[Note] = Field(default_factory=list)
    assets: ListOrNull[Asset] = Field(default_factory=list)


class Participant(TMIModel):
    user: User
    permissions: str | None = None
    last_activity: datetime | None = None


class CollaborationSession(TMIModel):
    session_id: str | None = None
    host: User | None = None
    presenter: User | None = None
    threat_model_id: str | None = None
    threat_model_name: str | None = None
    diagram_id: str | None = None
    diagram_name: str | None = None
    participants: ListOrNull[Participant] = Field(default_factory=list)
    websocket_url: str | None = None
    # Not from TMI: True when start_or_join created the session (201), False when it joined one (200).
    created: bool = Field(default=False, exclude=True)


class TokenPair(BaseModel):
    """An access/refresh token pair. `issued_at` is when the client received it (unix seconds)."""

    model_config = ConfigDict(extra="ignore")

    access_token: str
    refresh_token: str = ""  # empty for client_credentials grants
    expires_in: int = 3600  # the guide expects a string: both are accepted (PROTOCOL.md 10.10)
    token_type: str = "bearer"  # "bearer" at 1.8, "Bearer" at 0.217
    issued_at: float = Field(default_factory=time.time)

    @field_validator("refresh_token", mode="before")
    @classmethod
    def _none_refresh(cls, value: Any) -> Any:
        return "" if value is None else value

    @computed_field  # type: ignore[prop-decorator]
    @property
    def expires_at(self) -> float:
        return self.issued_at + self.expires_in

    def expires_within(self, seconds: float, *, now: float | None = None) -> bool:
        return (time.time() if now is None else now) + seconds >= self.expires_at


class ClientCredential(TMIModel):
    """A 1.8 service-account credential as listed by `GET /me/client_credentials` (no secret)."""

    id: str
    client_id: str
    name: str
    description: str = ""
    is_active: bool = True
    created_at: datetime | None = None
    modified_at: datetime | None = None
    expires_at: datetime | None = None
    last_used_at: datetime | None = None


class NewClientCredential(ClientCredential):
    """The create response: the only time TMI shows `client_secret`."""

    client_secret: str


class Provider(TMIModel):
    id: str
    name: str = ""
    icon: str | None = None
    auth_url: str
    token_url: str | None = None
    redirect_uri: str | None = None
    client_id: str | None = None


class ServerInfo(BaseModel):
    """What GET / says about the server, with the generation worked out (PROTOCOL.md 1.1, 9.1)."""

    generation: GenerationName
    version: str = ""  # the server version: api.version at 1.8, the prefix of service.build at 0.217
    api_version: str = ""
    build: str = ""
    status: str = ""  # lowercased: ok | degraded | error
    raw: dict[str, Any] = Field(default_factory=dict)


class UserInfo(TMIModel):
    """The signed-in user: OIDC shape at 1.8 (`sub`, `name`, `idp`), TMI shape at 0.217."""

    provider: str = ""
    provider_id: str = ""
    email: str = ""
    display_name: str = ""
    groups: list[str] = Field(default_factory=list)
    is_admin: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_oidc(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for oidc, tmi in (("sub", "provider_id"), ("name", "display_name"), ("idp", "provider")):
            if oidc in data and tmi not in data:
                data[tmi] = data[oidc]
        groups = data.get("groups")
        if isinstance(groups, list):
            data["groups"] = [
                (g.get("group_name") or g.get("name") or "") if isinstance(g, dict) else g for g in groups
            ]
        elif groups is None:
            data.pop("groups", None)
        return data


class Profile(UserInfo):
    """`GET /me` (1.8) or `GET /users/me` (0.217)."""

    principal_type: str = "user"
    is_security_reviewer: bool | None = None


class ServerConfig(TMIModel):
    """`GET /config` (1.8 only)."""

    features: dict[str, Any] = Field(default_factory=dict)
    operator: dict[str, Any] = Field(default_factory=dict)
    limits: dict[str, Any] = Field(default_factory=dict)
    ui: dict[str, Any] = Field(default_factory=dict)
    content_providers: list[dict[str, Any]] = Field(default_factory=list)
