"""A typed client for TMI, both generations (1.8 and 0.217), sync and async. Pure Python: no Django.

    from portal.tmi import TMIClient, AsyncTMIClient, pkce

    client = TMIClient(base_url, auth=token_pair, on_refresh=save_pair)   # generation found via GET /
    page = client.threat_models.list(limit=20)                            # one Page (items, total, has_next)
    for tm in client.threat_models.iter(status=["in_progress"]): ...      # every page
    session = client.collaboration.start_or_join(tm_id, diagram_id)
    url = client.collaboration.websocket_url(session)                     # ticket (1.8) or token (0.217)

    async with AsyncTMIClient(base_url, auth=token_pair) as client:       # the same methods, awaited
        tm = await client.threat_models.get(tm_id)

Errors derive from `TMIError` (errors.py), and `failure_of(error)` says which kind of `Failure` one is
(failures.py): what every caller decides from. What differs between generations is in generations.py.
"""

import types as _types

from portal.tmi.addresses import AddressGuard
from portal.tmi.cells import Edge, Node
from portal.tmi.client import AsyncTMIClient, TMIClient
from portal.tmi.errors import (
    AddressNotAllowed,
    APIConnectionError,
    APITimeoutError,
    BadGateway,
    BadRequest,
    ClientCredentialsRefused,
    Conflict,
    Forbidden,
    GatewayTimeout,
    InternalServerError,
    MalformedResponse,
    MethodNotAllowed,
    NotAcceptable,
    NotFound,
    NotSupported,
    PreconditionRequired,
    RateLimited,
    RefreshFailed,
    ServiceUnavailable,
    TMIError,
    TMIStatusError,
    Unauthorized,
    UnexpectedStatus,
    UnsupportedMediaType,
    VersionMismatch,
)
from portal.tmi.failures import Failure, failure_of, failure_of_status
from portal.tmi.generations import GenerationProfile, profile_for
from portal.tmi.models import (
    Asset,
    Authorization,
    ClientCredential,
    CollaborationSession,
    Diagram,
    Document,
    Metadata,
    NewClientCredential,
    Note,
    Participant,
    Profile,
    Provider,
    Repository,
    ServerConfig,
    ServerInfo,
    Threat,
    ThreatModel,
    TMListItem,
    TokenPair,
    User,
    UserInfo,
)
from portal.tmi.pagination import Page
from portal.tmi.retry import RetryPolicy
from portal.tmi.token_auth import TokenAuth

__all__ = [
    name
    for name, value in dict(globals()).items()
    if not name.startswith("_") and not isinstance(value, _types.ModuleType)
]
