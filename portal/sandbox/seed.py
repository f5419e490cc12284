"""Deterministic demo data for the sandbox, in the running generation's native shape.

`load(state, "demo")` builds the same world every time: ids are uuid5 of names, timestamps are
offsets from a fixed date, and every "random" choice comes from a seeded `random.Random`. Two
sandboxes of one generation therefore serve byte-identical threat models.
`load(state, "bulk:N")` adds N small threat models quickly, for benchmarks.

Users are the generation's test-IdP identities, so signing in with `login_hint=alice` later finds
the same account: 1.8 provider `tmi`, `alice@tmi.local`, "Alice (TMI User)"; 0.217 provider `test`,
`alice@test.tmi`, "Alice (Test User)".

Who may do what (O owner, W writer, R reader, - no access). Every user holds every role, and no
access, somewhere. At 1.8 each model also carries the groups the server adds on create
(security-reviewers owner, tmi-automation writer).

| #  | threat model                 | alice | bob | carol | dave |
|----|------------------------------|-------|-----|-------|------|
| 1  | Customer Payments API        | O     | W   | R     | -    |
| 2  | Mobile Banking App           | R     | O   | W     | -    |
| 3  | Identity and SSO Gateway       | W     | R   | O     | R    |
| 4  | Data Warehouse ETL           | -     | W   | R     | O    |
| 5  | Partner Webhooks Service     | O     | -   | -     | W    |
| 6  | Internal HR Portal           | -     | O   | R     | W    |
| 7  | IoT Telemetry Ingest         | R     | -   | O     | -    |
| 8  | Fraud Detection Pipeline     | W     | R   | -     | O    |
| 9  | Customer Support Chatbot     | O     | R   | W     | R    |
| 10 | Kubernetes Platform          | -     | O   | -     | R    |
| 11 | Public Marketing Site        | R*    | R*  | O     | R*   |
| 12 | Legacy Mainframe Bridge      | W     | -   | R     | O    |

R* = through the group `everyone` (reader), not a user entry.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from portal.sandbox.rest.children import KIND_BY_COLLECTION, new_child
from portal.sandbox.rest.shapes import principal_for
from portal.sandbox.rest.threat_models import new_threat_model
from portal.sandbox.state import SandboxState, SandboxUser

NAMESPACE = uuid.UUID("5d3c4b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a")
EPOCH = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
USERS = ("alice", "bob", "carol", "dave")

# (name, description, status index, owner, {user: role}, components)
# components: (actors, processes, stores) named for the system.
MODELS: tuple[
    tuple[str, str, int, str, dict[str, str], tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]], ...
] = (
    (
        "Customer Payments API",
        "Card and bank-transfer payments for the web shop, including refunds and PSP callbacks.",
        1,
        "alice",
        {"bob": "writer", "carol": "reader"},
        (
            ("Shopper", "Payment Provider", "Support Agent"),
            ("API Gateway", "Payments Service", "Refunds Worker", "Webhook Receiver", "Ledger Service"),
            ("Payments DB", "Ledger", "Audit Log"),
        ),
    ),
    (
        "Mobile Banking App",
        "iOS and Android banking app: balances, transfers, card freeze and push notifications.",
        2,
        "bob",
        {"alice": "reader", "carol": "writer"},
        (
            ("Customer", "Push Service", "Core Banking"),
            ("Mobile BFF", "Auth Service", "Transfers Service", "Notifications", "Device Registry"),
            ("Session Store", "Accounts DB", "Device DB"),
        ),
    ),
    (
        "Identity and SSO Gateway",
        "Central OIDC/SAML gateway federating the corporate IdP for internal applications.",
        3,
        "carol",
        {"alice": "writer", "bob": "reader", "dave": "reader"},
        (
            ("Employee", "Corporate IdP", "Relying App"),
            ("Login UI", "Token Service", "Federation Broker", "MFA Service", "Admin Console"),
            ("User Directory", "Key Vault", "Session Cache"),
        ),
    ),
    (
        "Data Warehouse ETL",
        "Nightly extraction of operational data into the analytics warehouse.",
        0,
        "dave",
        {"bob": "writer", "carol": "reader"},
        (
            ("Analyst", "Source Systems", "Scheduler"),
            ("Extractor", "Transformer", "Loader", "Quality Checks", "BI Server"),
            ("Staging Bucket", "Warehouse", "Lineage Catalog"),
        ),
    ),
    (
        "Partner Webhooks Service",
        "Outbound event delivery to partners with signing, retries and a dead-letter queue.",
        1,
        "alice",
        {"dave": "writer"},
        (
            ("Partner", "Event Producer", "Operator"),
            ("Dispatcher", "Signer", "Retry Scheduler", "Partner Portal", "Metrics Exporter"),
            ("Event Queue", "Dead Letter Queue", "Partner Config"),
        ),
    ),
    (
        "Internal HR Portal",
        "Self-service HR: payslips, leave requests and personal data changes.",
        4,
        "bob",
        {"carol": "reader", "dave": "writer"},
        (
            ("Employee", "HR Staff", "Payroll Provider"),
            ("Portal Web", "Leave Service", "Payslip Service", "Profile Service", "Export Job"),
            ("HR Database", "Document Store", "Payroll Files"),
        ),
    ),
    (
        "IoT Telemetry Ingest",
        "Ingestion of sensor telemetry from field devices over MQTT.",
        0,
        "carol",
        {"alice": "reader"},
        (
            ("Field Device", "Fleet Operator", "Firmware CI"),
            ("MQTT Broker", "Ingest Service", "Rules Engine", "Device Provisioning", "Dashboard"),
            ("Time-Series DB", "Device Registry", "Firmware Store"),
        ),
    ),
    (
        "Fraud Detection Pipeline",
        "Real-time scoring of transactions with a machine-learning model.",
        2,
        "dave",
        {"alice": "writer", "bob": "reader"},
        (
            ("Payments Stream", "Fraud Analyst", "Data Scientist"),
            ("Feature Builder", "Scoring Service", "Case Manager", "Model Trainer", "Alerting"),
            ("Feature Store", "Model Registry", "Cases DB"),
        ),
    ),
    (
        "Customer Support Chatbot",
        "LLM-assisted chatbot answering customer questions with access to order history.",
        1,
        "alice",
        {"bob": "reader", "carol": "writer", "dave": "reader"},
        (
            ("Customer", "Support Agent", "LLM Provider"),
            ("Chat Widget", "Conversation Service", "Retrieval Service", "Handover Service", "Moderation"),
            ("Transcripts", "Knowledge Base", "Orders DB"),
        ),
    ),
    (
        "Kubernetes Platform",
        "Shared Kubernetes clusters, CI/CD and secrets management for product teams.",
        3,
        "bob",
        {"dave": "reader"},
        (
            ("Developer", "CI Runner", "Cloud Provider"),
            ("API Server", "Admission Controller", "Deploy Pipeline", "Secrets Operator", "Ingress"),
            ("etcd", "Container Registry", "Secrets Vault"),
        ),
    ),
    (
        "Public Marketing Site",
        "Static marketing site with a CMS, contact forms and newsletter sign-up.",
        4,
        "carol",
        {},
        (
            ("Visitor", "Editor", "CDN"),
            ("Web Frontend", "CMS", "Forms Handler", "Newsletter Sync", "Search"),
            ("Content DB", "Media Bucket", "Leads Table"),
        ),
    ),
    (
        "Legacy Mainframe Bridge",
        "Adapter exposing mainframe transactions to modern services over REST.",
        2,
        "dave",
        {"alice": "writer", "carol": "reader"},
        (
            ("Modern Service", "Batch Operator", "Mainframe"),
            ("Bridge API", "Protocol Adapter", "Batch Scheduler", "Cache Warmer", "Monitoring"),
            ("Response Cache", "Transaction Log", "Copybook Repo"),
        ),
    ),
)
EVERYONE_READS = ("Public Marketing Site",)

STATUSES_18 = ("not_started", "in_progress", "pending_review", "approved", "closed")
STATUSES_0217 = ("Not Started", "In Progress", "Pending Review", "Approved", "Closed")
SEVERITIES_18 = ("critical", "high", "medium", "low", "informational", "unknown")
SEVERITIES_0217 = ("Critical", "High", "Medium", "Low", "None", "Unknown")
THREAT_STATUSES_18 = ("identified", "investigating", "in_progress", "mitigated", "accepted")
THREAT_STATUSES_0217 = ("Identified", "Investigating", "In Progress", "Mitigated", "Accepted")
SSVC_DECISIONS = ("Immediate", "Out-of-Cycle", "Scheduled", "Defer")  # 1.8 only
# 1.8: the models left without a security reviewer (the others have one: carol, or alice where carol owns it).
WITHOUT_REVIEWER = ("Data Warehouse ETL", "Fraud Detection Pipeline", "Kubernetes Platform")

# (name, STRIDE category, description, mitigation, CWE)
THREATS = (
    (
        "Stolen session token replay",
        "Spoofing",
        "An attacker replays a session token captured from logs or a proxy.",
        "Short-lived tokens bound to the client; never log Authorization headers.",
        "CWE-294",
    ),
    (
        "Tampering with request payloads",
        "Tampering",
        "Amounts or identifiers are modified in transit or by the client.",
        "Validate server-side and sign critical fields.",
        "CWE-345",
    ),
    (
        "Missing audit trail for admin actions",
        "Repudiation",
        "Administrators can change data without a trace.",
        "Write append-only audit events for every privileged action.",
        "CWE-778",
    ),
    (
        "Sensitive data in error messages",
        "Information Disclosure",
        "Stack traces expose internal hosts and queries.",
        "Return generic errors; log details server-side only.",
        "CWE-209",
    ),
    (
        "Unthrottled expensive endpoint",
        "Denial of Service",
        "Clients can trigger costly queries without limits.",
        "Rate-limit per client and paginate results.",
        "CWE-770",
    ),
    (
        "Broken object-level authorization",
        "Elevation of Privilege",
        "Changing an id in the URL reveals other users' data.",
        "Check ownership on every object access.",
        "CWE-639",
    ),
    (
        "SQL injection in search",
        "Tampering",
        "Unparameterised search filters reach the database.",
        "Use parameterised queries and an allow-list of sort fields.",
        "CWE-89",
    ),
    (
        "Secrets committed to repository",
        "Information Disclosure",
        "API keys live in configuration files in git.",
        "Move secrets to a vault and rotate the exposed keys.",
        "CWE-798",
    ),
    (
        "Webhook signature not verified",
        "Spoofing",
        "Callbacks are accepted without checking the sender's signature.",
        "Verify HMAC signatures with a timestamp tolerance.",
        "CWE-347",
    ),
    (
        "Unencrypted backups",
        "Information Disclosure",
        "Database snapshots are stored without encryption.",
        "Enable encryption at rest with managed keys.",
        "CWE-311",
    ),
    (
        "Queue flooding",
        "Denial of Service",
        "A producer floods the queue and starves other consumers.",
        "Per-producer quotas and back-pressure.",
        "CWE-400",
    ),
    (
        "Over-privileged service account",
        "Elevation of Privilege",
        "A worker's credentials allow writes to every table.",
        "Least-privilege roles per service.",
        "CWE-250",
    ),
)
FLOW_LABELS = ("HTTPS", "gRPC", "SQL", "AMQP", "mTLS", "JSON/REST", "S3 API", "Events")
# What a flow is labelled with, by the kinds of node it joins (all drawn from FLOW_LABELS).
FLOW_LABELS_BY_KIND = {
    ("actor", "process"): ("HTTPS", "JSON/REST", "mTLS"),
    ("process", "process"): ("gRPC", "AMQP", "mTLS", "JSON/REST", "Events"),
    ("process", "store"): ("SQL", "S3 API", "Events"),
}
ASSET_TYPES = ("data", "software", "infrastructure", "service", "hardware", "personnel")


def sid(*parts: object) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(str(p) for p in parts)))


def at(days: float, minutes: int = 0) -> str:
    return (EPOCH + timedelta(days=days, minutes=minutes)).isoformat().replace("+00:00", "Z")


def load(state: SandboxState, name: str) -> None:
    users = {hint: ensure_user(state, hint) for hint in USERS}
    if name == "demo":
        _demo(state, users)
    elif name.startswith("bulk:"):
        _bulk(state, users, int(name.split(":", 1)[1]))
    else:
        raise ValueError(f"unknown seed {name!r}: use 'demo' or 'bulk:<count>'")


def ensure_user(state: SandboxState, hint: str) -> SandboxUser:
    """The same identity the generation's test IdP issues for `login_hint=<hint>`."""
    domain, suffix = ("test.tmi", "Test User") if state.config.is_legacy else ("tmi.local", "TMI User")
    return state.user_for_login(
        provider=state.config.test_idp,
        provider_id=hint,
        email=f"{hint}@{domain}",
        display_name=f"{hint.capitalize()} ({suffix})",
    )


def _acl_entry(state: SandboxState, user: SandboxUser, role: str) -> dict[str, Any]:
    if state.config.is_legacy:  # 0.217 identifies users by email
        return {
            "principal_type": "user",
            "provider": user.provider,
            "provider_id": user.email,
            "email": user.email,
            "display_name": user.display_name,
            "role": role,
        }
    return {"principal_type": "user", "provider": user.provider, "provider_id": user.provider_id, "role": role}


class _World:
    """Per-generation vocabulary and the seeded random source."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.legacy = state.config.is_legacy
        self.rng = random.Random(f"tmi-sandbox-seed-{state.config.generation}")
        self.statuses = STATUSES_0217 if self.legacy else STATUSES_18
        self.severities = SEVERITIES_0217 if self.legacy else SEVERITIES_18
        self.threat_statuses = THREAT_STATUSES_0217 if self.legacy else THREAT_STATUSES_18
        self.edge_shape = "edge" if self.legacy else "flow"


def _demo(state: SandboxState, users: dict[str, SandboxUser]) -> None:
    world = _World(state)
    for index, (name, description, status, owner, grants, components) in enumerate(MODELS):
        day = index * 3
        acl = [_acl_entry(state, users[hint], role) for hint, role in grants.items()]
        if name in EVERYONE_READS:
            acl.append(
                {
                    "principal_type": "group",
                    "provider": "*" if world.legacy else "tmi",
                    "provider_id": "everyone",
                    "role": "reader",
                }
            )
        tm = new_threat_model(
            state,
            users[owner],
            {"name": name, "description": description, "authorization": acl},
            tm_id=sid("tm", name),
            at=at(day),
        )
        tm.update(
            threat_model_framework="STRIDE",
            issue_uri=f"https://issues.example.com/browse/TM-{101 + index}",
            metadata=[
                {"key": "business_unit", "value": ("Retail", "Corporate", "Platform")[index % 3]},
                {"key": "data_classification", "value": ("confidential", "internal", "restricted")[index % 3]},
            ],
            status=world.statuses[status],
            status_updated=at(day + 1),
        )
        if not world.legacy and name not in WITHOUT_REVIEWER:
            reviewer = users["alice" if owner == "carol" else "carol"]
            tm["security_reviewer"] = principal_for(state, reviewer)
        _children(world, tm, components, day)
        tm["modified_at"] = at(day + 2, minutes=index * 7)


def _children(world: _World, tm: dict[str, Any], components, day: int) -> None:
    name = tm["name"]
    assets = [
        _add(
            world,
            tm,
            "assets",
            sid(name, "asset", i),
            day,
            i,
            {
                "name": store,
                "description": f"{store} used by {name}.",
                "type": ASSET_TYPES[i % len(ASSET_TYPES)],
                "criticality": ("high", "medium", "low")[i % 3],
                "classification": [("confidential", "internal", "public")[i % 3]],
                "sensitivity": ("high", "medium", "low")[i % 3],
            },
        )
        for i, store in enumerate(components[2])
    ]
    diagram_count = 1 + world.rng.randrange(3)
    diagrams = [_diagram(world, tm, components, day, n) for n in range(diagram_count)]
    processes = [c for c in diagrams[0]["cells"] if c.get("shape") == "process"]
    for i in range(4 + world.rng.randrange(4)):
        _threat(world, tm, day, i, diagrams[0], processes, assets)
    _add(
        world,
        tm,
        "documents",
        sid(name, "doc", 0),
        day,
        0,
        {
            "name": f"{name} architecture overview",
            "uri": f"https://wiki.example.com/{_slug(name)}/architecture",
            "description": "Context, containers and deployment views.",
        },
    )
    _add(
        world,
        tm,
        "documents",
        sid(name, "doc", 1),
        day,
        1,
        {"name": "Security requirements", "uri": f"https://docs.example.com/security/{_slug(name)}.pdf"},
    )
    _add(
        world,
        tm,
        "repositories",
        sid(name, "repo", 0),
        day,
        0,
        {
            "name": _slug(name),
            "uri": f"https://github.com/example/{_slug(name)}",
            "type": "git",
            "parameters": {"refType": "branch", "refValue": "main"},
        },
    )
    _add(
        world,
        tm,
        "notes",
        sid(name, "note", 0),
        day,
        0,
        {
            "name": "Review notes",
            "description": "Findings from the last review session.",
            "content": f"## {name}: review\n\n- Data flows checked against the **architecture overview**.\n"
            "- Open question: who rotates the service credentials?\n\n> Next review in Q2.\n",
        },
    )
    if tm["name"] == MODELS[0][0]:
        _add(
            world,
            tm,
            "notes",
            sid(name, "note", 1),
            day,
            1,
            {
                "name": "Pasted from the bug tracker",
                "content": "Reproduction from ticket SEC-42 (user-written, keep it escaped):\n\n"
                "<script>alert('xss from a note')</script>\n<img src=x onerror=\"alert(1)\">\n"
                '<b>bold</b> and <a href="javascript:alert(2)">a link</a>\n',
            },
        )


def _add(
    world: _World, tm: dict[str, Any], collection: str, child_id: str, day: int, i: int, body: dict[str, Any]
) -> dict[str, Any]:
    return new_child(world.state, tm, KIND_BY_COLLECTION[collection], body, child_id=child_id, at=at(day, 30 + i))


def _threat(
    world: _World,
    tm: dict[str, Any],
    day: int,
    i: int,
    diagram: dict[str, Any],
    processes: list[dict[str, Any]],
    assets: list[dict[str, Any]],
) -> None:
    rng = world.rng
    name, category, description, mitigation, cwe = THREATS[rng.randrange(len(THREATS))]
    status = rng.randrange(len(world.threat_statuses))
    body: dict[str, Any] = {
        "name": f"{name} ({tm['name'].split()[0]} #{i + 1})",
        "description": description,
        "mitigation": mitigation,
        "severity": world.severities[rng.randrange(len(world.severities))],
        "score": round(rng.uniform(1, 9.8), 1),
        "priority": ("P1", "P2", "P3")[rng.randrange(3)],
        "status": world.threat_statuses[status],
        "mitigated": world.threat_statuses[status] in ("mitigated", "Mitigated"),
        "threat_type": category if world.legacy else [category],
        "metadata": [{"key": "source", "value": "threat-modelling workshop"}],
    }
    if processes and i % 2 == 0:
        body.update(diagram_id=diagram["id"], cell_id=processes[i % len(processes)]["id"])
    if assets and i % 3 == 1:
        body["asset_id"] = assets[i % len(assets)]["id"]
    if not world.legacy:
        body["cwe_id"] = [cwe]
        if i % 4 == 0:
            body["cvss"] = [{"vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N", "score": 9.1}]
        if i % 2 == 1:  # an SSVC decision on every other threat, cycling through the four (no draw from rng)
            body["ssvc"] = {
                "vector": "SSVCv2/E:A/U:S/T:T/P:S/2026-04-08/",
                "decision": SSVC_DECISIONS[(day // 3 + i // 2) % len(SSVC_DECISIONS)],
                "methodology": "Supplier",
            }
    _add(world, tm, "threats", sid(tm["name"], "threat", i), day, i, body)


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-").replace("--", "-")


# -- diagrams ----------------------------------------------------------------------------------
NODE_STYLE = {
    "actor": ({"fill": "#FFFFFF", "stroke": "#333333", "strokeWidth": 2}, (120, 60)),
    "process": ({"fill": "#E3F2FD", "stroke": "#1565C0", "strokeWidth": 2}, (160, 70)),
    "store": ({"fill": "#FFF8E1", "stroke": "#F57F17", "strokeWidth": 2}, (160, 60)),
    "security-boundary": ({"fill": "#FAFAFA", "stroke": "#C62828", "strokeWidth": 2, "strokeDasharray": "6,4"}, None),
    "text-box": ({"fill": "transparent", "stroke": "none"}, (300, 40)),
}
ROW = 130  # vertical pitch of the grid


def _diagram(world: _World, tm: dict[str, Any], components, day: int, n: int) -> dict[str, Any]:
    titles = ("Context data flows", "Service internals", "Deployment and data stores")
    diagram = _add(
        world,
        tm,
        "diagrams",
        sid(tm["name"], "diagram", n),
        day,
        10 + n,
        {"name": f"{tm['name']}: {titles[n]}", "type": "DFD-1.0.0"},
    )
    cells = _dfd_cells(world, tm["name"] + f"/{n}", components, rotate=n)
    diagram.update(cells=cells, update_vector=len(cells), description=f"Level-{n} DFD of {tm['name']}.")
    return diagram


def _dfd_cells(world: _World, key: str, components, *, rotate: int = 0) -> list[dict[str, Any]]:
    """A left-to-right DFD drawn the way a person would: actors outside on the left, processes on a
    two-column grid in an application boundary, stores in a data boundary on the right, a caption, and
    labelled flows only between neighbours on the grid (same row, next column; or same column, next row),
    so no flow has to cross a node. Rows share a centre line, so side-by-side nodes join with straight
    horizontal flows; each flow leaves and enters by the ports that face each other."""
    actors, processes, stores = (list(c[rotate % len(c) :]) + list(c[: rotate % len(c)]) for c in components)
    cells: list[dict[str, Any]] = []

    def node(
        shape: str, label: str, x: int, y: int, size: tuple[int, int] | None = None, parent: str | None = None
    ) -> dict[str, Any]:
        body, default_size = NODE_STYLE[shape]
        width, height = size or default_size
        cell: dict[str, Any] = {
            "id": sid(key, shape, label),
            "shape": shape,
            "position": {"x": x, "y": y},
            "size": {"width": width, "height": height},
            "angle": 0,
            "attrs": {"body": dict(body), "text": {"text": label, "fontSize": 12, "fill": "#212121"}},
            "zIndex": 1 if shape == "security-boundary" else 2,
            "data": {"_metadata": []},
        }
        if shape not in ("security-boundary", "text-box"):
            cell["ports"] = {
                "groups": {g: {"position": g} for g in ("top", "right", "bottom", "left")},
                "items": [{"id": f"{g}", "group": g} for g in ("top", "right", "bottom", "left")],
            }
        if parent:
            cell["parent"] = parent
        if not world.legacy:
            cell["data"].update(security_boundary=shape == "security-boundary")
        cells.append(cell)
        return cell

    def boundary(label: str, x: int, width: int, rows: int) -> dict[str, Any]:
        return node("security-boundary", label, x, 90, (width, rows * ROW + 30))

    def on_row(shape: str, label: str, x: int, row: int, parent: str | None = None) -> dict[str, Any]:
        height = NODE_STYLE[shape][1][1]
        return node(shape, label, x, ROW_CENTRE + row * ROW - height // 2, parent=parent)

    node("text-box", f"{key.split('/')[0]}: trust boundaries and data flows", 40, 20)
    app_rows, data_rows = (len(processes) + 1) // 2, len(stores)
    app = boundary("Application zone", 220, 480, app_rows)
    data = boundary("Data zone", 760, 240, data_rows)
    actor_cells = [on_row("actor", a, 40, i) for i, a in enumerate(actors)]
    grid = {
        (i % 2, i // 2): on_row("process", p, 260 + (i % 2) * 240, i // 2, parent=app["id"])
        for i, p in enumerate(processes)
    }
    process_cells = list(grid.values())
    store_cells = [on_row("store", s, 800, i, parent=data["id"]) for i, s in enumerate(stores)]
    if not world.legacy:
        app["children"] = [c["id"] for c in process_cells]
        data["children"] = [c["id"] for c in store_cells]

    # Neighbours only: actor -> the process beside it; across each process row; down the columns (the
    # right-hand one upwards, a loop back); each row's last process -> the store beside it.
    pairs = [(a, grid[(0, row)]) for row, a in enumerate(actor_cells) if (0, row) in grid]
    pairs += [(grid[(0, row)], grid[(1, row)]) for row in range(app_rows) if (1, row) in grid]
    pairs += [(grid[(0, row)], grid[(0, row + 1)]) for row in range(app_rows) if (0, row + 1) in grid]
    pairs += [(grid[(1, row + 1)], grid[(1, row)]) for row in range(app_rows) if (1, row + 1) in grid]
    pairs += [
        (grid.get((1, row)) or grid[(0, row)], store) for row, store in enumerate(store_cells) if (0, row) in grid
    ]
    pairs = [(a, b) for a, b in pairs if not _crosses_a_node(a, b, cells)]
    labels = random.Random(f"tmi-sandbox-flow-labels/{key}")
    for source, target in pairs:
        choices = FLOW_LABELS_BY_KIND.get((source["shape"], target["shape"]), FLOW_LABELS)
        label = choices[labels.randrange(len(choices))]
        out_port, in_port = _facing_ports(source, target)
        cells.append(
            {
                "id": sid(key, "flow", source["id"], target["id"]),
                "shape": world.edge_shape,
                "source": {"cell": source["id"], "port": out_port},
                "target": {"cell": target["id"], "port": in_port},
                "attrs": {
                    "line": {"stroke": "#455A64", "strokeWidth": 1.5, "targetMarker": {"name": "classic", "size": 8}}
                },
                "labels": [{"position": 0.5, "attrs": {"text": {"text": label, "fontSize": 11}}}],
                "zIndex": 3,
                "data": {"_metadata": []},
            }
        )
    return cells


ROW_CENTRE = 165  # y of the first row's centre line


def _centre(cell: dict[str, Any]) -> tuple[float, float]:
    return (cell["position"]["x"] + cell["size"]["width"] / 2, cell["position"]["y"] + cell["size"]["height"] / 2)


def _facing_ports(source: dict[str, Any], target: dict[str, Any]) -> tuple[str, str]:
    (sx, sy), (tx, ty) = _centre(source), _centre(target)
    if abs(tx - sx) >= abs(ty - sy):
        return ("right", "left") if tx > sx else ("left", "right")
    return ("bottom", "top") if ty > sy else ("top", "bottom")


def port_point(cell: dict[str, Any], port: str) -> tuple[float, float]:
    """Where a seeded node's side port is (the middle of that side)."""
    x, y = cell["position"]["x"], cell["position"]["y"]
    w, h = cell["size"]["width"], cell["size"]["height"]
    return {"top": (x + w / 2, y), "bottom": (x + w / 2, y + h), "left": (x, y + h / 2), "right": (x + w, y + h / 2)}[
        port
    ]


def segment_hits_box(a: tuple[float, float], b: tuple[float, float], box: tuple[float, float, float, float]) -> bool:
    """Whether the segment a-b passes through the inside of box (x1, y1, x2, y2), by Liang-Barsky clipping."""
    x1, y1, x2, y2 = box
    t0, t1 = 0.0, 1.0
    dx, dy = b[0] - a[0], b[1] - a[1]
    for p, q in ((-dx, a[0] - x1), (dx, x2 - a[0]), (-dy, a[1] - y1), (dy, y2 - a[1])):
        if p == 0:
            if q <= 0:
                return False
        else:
            t = q / p
            if p < 0:
                t0 = max(t0, t)
            else:
                t1 = min(t1, t)
    return t1 - t0 > 1e-9


def _crosses_a_node(source: dict[str, Any], target: dict[str, Any], cells: list[dict[str, Any]]) -> bool:
    out_port, in_port = _facing_ports(source, target)
    a, b = port_point(source, out_port), port_point(target, in_port)
    for cell in cells:
        if cell is source or cell is target or cell["shape"] == "security-boundary":
            continue
        x, y = cell["position"]["x"], cell["position"]["y"]
        if segment_hits_box(a, b, (x, y, x + cell["size"]["width"], y + cell["size"]["height"])):
            return True
    return False


# -- benchmarks ------------------------------------------------------------------------------
def _bulk(state: SandboxState, users: dict[str, SandboxUser], count: int) -> None:
    """`count` small threat models (a diagram and three threats each), owners rotating, every user
    able to read all of them."""
    world = _World(state)
    hints = list(USERS)
    components = MODELS[0][5]
    for index in range(count):
        owner = hints[index % len(hints)]
        acl = [_acl_entry(state, users[h], "reader") for h in hints if h != owner]
        name = f"Bulk Model {index + 1:05d}"
        day = index / 100
        tm = new_threat_model(
            state,
            users[owner],
            {"name": name, "description": "Generated for benchmarks.", "authorization": acl},
            tm_id=sid("bulk", index),
            at=at(day),
        )
        tm["status"] = world.statuses[index % len(world.statuses)]
        diagram = _diagram(world, tm, components, int(day), 0)
        for i in range(3):
            _threat(world, tm, int(day), i, diagram, [c for c in diagram["cells"] if c["shape"] == "process"], [])
