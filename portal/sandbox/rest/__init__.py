"""The sandbox's REST resources: threat models, their children and metadata, for the running
generation (PROTOCOL.md 4, 5 and 9.3).

Modules: `pipeline` (the checks every request passes, in the real middleware order), `spec`
(validation against the generation's OpenAPI document), `threat_models`, `children` (+ `diagrams`),
`metadata`, `bulk`, and the helpers `shapes` (wire views), `acl`, `patch` (RFC 6902), `locking` (If-Match),
`filters` and `normalise` (1.8's enum normaliser).
"""

from __future__ import annotations

from starlette.routing import Route

from portal.sandbox.rest import bulk, children, client_credentials, diagram_model, metadata, spec, threat_models
from portal.sandbox.rest.pipeline import route
from portal.sandbox.state import SandboxState


def routes(state: SandboxState) -> list[Route]:
    legacy = state.config.is_legacy
    the_spec = spec.load(state.config.generation)
    groups = [*threat_models.operations(), *metadata.operations(the_spec, None), *diagram_model.operations(the_spec)]
    if not legacy:
        groups += threat_models.restore_operations()
        groups += client_credentials.operations()  # 0.217 has no service accounts
    for kind in children.KINDS:
        groups += [
            *children.operations(kind, legacy),
            *bulk.operations(the_spec, kind),
            *metadata.operations(the_spec, kind),
        ]
    # Literal segments (bulk, restore) must be tried before the {id}/{key} templates beside them.
    groups.sort(key=lambda group: "{" in group[0].rsplit("/", 1)[-1])
    return [r for path, ops in groups for r in route(state, path, ops)]
