"""The register of threats across all models: every threat the member may see (the live threats of their visible
models, `_visible_threats`), filtered, sorted and paged by the database. TMI itself lists threats only per model;
the register exists only here, from the portfolio store. No TMI call.

The query string is the register's whole state, so every filter combination has a URL that can be shared; pages,
spreadsheets and scheduled exports read it through `register_query_clean` alike. A value that cannot mean anything
(an unknown severity, a sort, a number of days that is not a number) is ignored and the page says so in a note; a
value in TMI's own free text (a status, a threat type, a priority, a model's status or id) is kept as given and
simply matches what it matches, so a shared link never shows more than it asked for.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When
from django.db.models import Count as CountOf
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.diagrams.text import clean_display_text
from portal.portfolio.models import StoredThreat
from portal.portfolio.records import Count, ThreatModelListPage
from portal.portfolio.selectors import _visible_models, _visible_threats, threat_model_list_get
from portal.portfolio.shaping import severity_counts
from portal.portfolio.vocabulary import (
    CLOSED_THREAT_STATUSES,
    SEVERITIES,
    TM_STATUSES,
    severity_label,
    status_label,
    term_key,
    threat_status_label,
    tm_status_label,
)

PAGE_SIZE = 25
STATES = ("open", "closed", "all")
SORTS = ("severity", "name", "model", "age", "changed", "priority", "score")
SORT_LABELS = (
    ("severity", gettext_lazy("Severity (critical first, then oldest)")),
    ("name", gettext_lazy("Threat name")),
    ("model", gettext_lazy("Threat model")),
    ("age", gettext_lazy("Oldest first")),
    ("changed", gettext_lazy("Last changed")),
    ("priority", gettext_lazy("Priority")),
    ("score", gettext_lazy("Score (highest first)")),
)
STATE_LABELS = {
    "open": gettext_lazy("Open threats"),
    "closed": gettext_lazy("Mitigated, accepted or closed threats"),
    "all": gettext_lazy("All threats, open or not"),
}
# TMI 1.8's SSVC decisions (term_key of "Out-of-Cycle" is "out_of_cycle"); 0.217 has no SSVC.
SSVC_DECISIONS = ("immediate", "out_of_cycle", "scheduled", "defer")
SSVC_LABELS = {
    "immediate": gettext_lazy("Immediate"),
    "out_of_cycle": gettext_lazy("Out of cycle"),
    "scheduled": gettext_lazy("Scheduled"),
    "defer": gettext_lazy("Defer"),
}
MAX_DAYS = 36500  # a hundred years: more is a typo, not a filter
_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_NOTE_CHARS = 60  # how much of an ignored value a note repeats


# -- the query ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RegisterQuery:
    """The register's filters, sort and page, cleaned; `notes` says what was ignored and why."""

    severities: tuple[str, ...] = ()
    state: str = "open"
    status: str = ""
    models: tuple[str, ...] = ()
    model_statuses: tuple[str, ...] = ()
    threat_type: str = ""
    priority: str = ""
    ssvcs: tuple[str, ...] = ()  # repeatable: "act now" is two decisions (Immediate, Out-of-Cycle)
    older_than: int | None = None
    changed_within: int | None = None
    created_after: datetime | None = None  # TMI created the threat after this ("what changed": new threats)
    q: str = ""
    sort: str = "severity"
    page: int = 1
    notes: tuple[str, ...] = ()

    def params(self, *, page: bool = True) -> list[tuple[str, str]]:
        """The query string's items, defaults left out, in the contract's names."""
        items = [("severity", s) for s in self.severities]
        if self.state != "open":
            items.append(("state", self.state))
        if self.status:
            items.append(("status", self.status))
        items += [("model", m) for m in self.models]
        items += [("model_status", s) for s in self.model_statuses]
        for key, value in (("type", self.threat_type), ("priority", self.priority)):
            if value:
                items.append((key, value))
        items += [("ssvc", d) for d in self.ssvcs]
        for key, days in (("older_than", self.older_than), ("changed_within", self.changed_within)):
            if days is not None:
                items.append((key, str(days)))
        if self.created_after is not None:
            items.append(("created_after", self.created_after.isoformat()))
        if self.q:
            items.append(("q", self.q))
        if self.sort != "severity":
            items.append(("sort", self.sort))
        if page and self.page != 1:
            items.append(("page", str(self.page)))
        return items

    def query_string(self, **changes: Any) -> str:
        """`?severity=high&...` for this query with `changes` applied (a new filter starts at page 1)."""
        changed = replace(self, **changes) if changes else self
        if changes and "page" not in changes:
            changed = replace(changed, page=1)
        items = changed.params()
        return "?" + urlencode(items) if items else "?"

    @property
    def filter_params(self) -> list[tuple[str, str]]:
        """The filters and sort without the page: what a spreadsheet link carries."""
        return self.params(page=False)

    @property
    def is_filtered(self) -> bool:
        return bool(self.chips_source())

    def chips_source(self) -> list[tuple[str, str, dict]]:
        """(kind, value, the change that removes it) for every active filter."""
        chips: list[tuple[str, str, dict]] = []
        for s in self.severities:
            chips.append(("severity", s, {"severities": tuple(x for x in self.severities if x != s)}))
        if self.state != "open":
            chips.append(("state", self.state, {"state": "open"}))
        if self.status:
            chips.append(("status", self.status, {"status": ""}))
        for m in self.models:
            chips.append(("model", m, {"models": tuple(x for x in self.models if x != m)}))
        for s in self.model_statuses:
            chips.append(("model_status", s, {"model_statuses": tuple(x for x in self.model_statuses if x != s)}))
        for kind, value, attribute in (
            ("type", self.threat_type, "threat_type"),
            ("priority", self.priority, "priority"),
            ("q", self.q, "q"),
        ):
            if value:
                chips.append((kind, value, {attribute: ""}))
        for d in self.ssvcs:
            chips.append(("ssvc", d, {"ssvcs": tuple(x for x in self.ssvcs if x != d)}))
        if self.older_than is not None:
            chips.append(("older_than", str(self.older_than), {"older_than": None}))
        if self.changed_within is not None:
            chips.append(("changed_within", str(self.changed_within), {"changed_within": None}))
        if self.created_after is not None:
            chips.append(("created_after", self.created_after.isoformat(), {"created_after": None}))
        return chips


def _free_key(value: str, length: int) -> str:
    """TMI's free text (a status, a priority) as a vocabulary key, without the control characters a URL can carry
    (PostgreSQL refuses a NUL in a query)."""
    return term_key(clean_display_text(value))[:length]


def _values(raw: Any, key: str) -> list[str]:
    """Every non-empty value of `key` in a QueryDict or a plain dict (of strings or lists)."""
    if raw is None:
        return []
    if hasattr(raw, "getlist"):
        found = raw.getlist(key)
    else:
        value = raw.get(key) if isinstance(raw, Mapping) else None
        found = [] if value is None else list(value) if isinstance(value, (list, tuple)) else [value]
    return [str(v).strip() for v in found if v is not None and str(v).strip()]


def _first(raw: Any, key: str) -> str:
    values = _values(raw, key)
    return values[0] if values else ""


def _shown(value: str) -> str:
    text = clean_display_text(value)
    return text if len(text) <= _NOTE_CHARS else text[: _NOTE_CHARS - 1] + "…"


def _days(raw: Any, key: str, notes: list[str], words: str) -> int | None:
    value = _first(raw, key)
    if not value:
        return None
    try:
        days = int(value)
    except ValueError:
        days = -1
    if 0 <= days <= MAX_DAYS:
        return days
    notes.append(
        _("“%(value)s” is not a number of days for “%(filter)s”; ignored.") % {"value": _shown(value), "filter": words}
    )
    return None


def _moment(raw: Any, key: str, notes: list[str]) -> datetime | None:
    """An ISO 8601 date and time with its offset (the links "what changed" makes); a naive one is read as UTC."""
    value = _first(raw, key)
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace(" ", "+"))  # a "+" in a hand-typed URL arrives as a space
    except ValueError:
        notes.append(_("“%(value)s” is not a date and time; ignored.") % {"value": _shown(value)})
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def threat_type_clean(value: str) -> str:
    """A threat type as the store keeps it (portfolio/store.py threat_register_fields)."""
    return clean_display_text(value).replace("|", "/").strip()[:256]


def register_query_clean(raw: Any) -> RegisterQuery:
    """The query string (a QueryDict, or a dict of strings or lists) -> RegisterQuery. Never raises."""
    notes: list[str] = []
    severities: list[str] = []
    for value in _values(raw, "severity"):
        key = term_key(value)
        if key in SEVERITIES:
            if key not in severities:
                severities.append(key)
        else:
            notes.append(_("Unknown severity “%(value)s” ignored.") % {"value": _shown(value)})
    state = term_key(_first(raw, "state")) or "open"
    if state not in STATES:
        notes.append(_("Unknown state “%(value)s” ignored: showing open threats.") % {"value": _shown(state)})
        state = "open"
    models: list[str] = []
    for value in _values(raw, "model"):
        if _MODEL_ID.match(value):
            if value not in models:
                models.append(value)
        else:
            notes.append(_("Unknown threat model “%(value)s” ignored.") % {"value": _shown(value)})
    model_statuses: list[str] = []
    for value in _values(raw, "model_status"):
        key = _free_key(value, 200)
        if key and key not in model_statuses:
            model_statuses.append(key)
    ssvcs: list[str] = []
    for value in _values(raw, "ssvc"):
        decision = term_key(value)
        if decision not in SSVC_DECISIONS:
            notes.append(_("Unknown SSVC decision “%(value)s” ignored.") % {"value": _shown(decision)})
        elif decision not in ssvcs:
            ssvcs.append(decision)
    sort = _first(raw, "sort") or "severity"
    if sort not in SORTS:
        notes.append(_("Unknown sort “%(value)s” ignored: sorted by severity.") % {"value": _shown(sort)})
        sort = "severity"
    page_text = _first(raw, "page") or "1"
    try:
        page = max(1, int(page_text))
    except ValueError:
        notes.append(_("“%(value)s” is not a page number; showing the first page.") % {"value": _shown(page_text)})
        page = 1
    return RegisterQuery(
        severities=tuple(severities),
        state=state,
        status=_free_key(_first(raw, "status"), 200),
        models=tuple(models),
        model_statuses=tuple(model_statuses),
        threat_type=threat_type_clean(_first(raw, "type")),
        priority=_free_key(_first(raw, "priority"), 100),
        ssvcs=tuple(ssvcs),
        older_than=_days(raw, "older_than", notes, _("older than")),
        changed_within=_days(raw, "changed_within", notes, _("changed in the last")),
        created_after=_moment(raw, "created_after", notes),
        q=clean_display_text(_first(raw, "q"))[:200],
        sort=sort,
        page=page,
        notes=tuple(notes),
    )


# -- records -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RegisterRow:
    id: str
    name: str
    description: str
    severity: str
    severity_label: str
    status: str
    status_label: str
    is_open: bool
    priority: str
    priority_label: str
    score: float | None
    ssvc: str
    ssvc_label: str
    threat_types: tuple[str, ...]
    mitigation: str
    model_id: str
    model_name: str
    model_status: str
    model_status_label: str
    model_owner: str
    created_at: datetime | None
    modified_at: datetime | None
    age_days: int | None


@dataclass(frozen=True)
class Chip:
    label: str
    remove_query: str  # the register's query string without this filter


@dataclass(frozen=True)
class RegisterOptions:
    """What the filter form offers: the values the member's threats and models hold."""

    models: list[tuple[str, str]] = field(default_factory=list)  # (TMI id, name)
    statuses: list[tuple[str, str]] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    priorities: list[tuple[str, str]] = field(default_factory=list)
    model_statuses: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class RegisterPage:
    rows: list[RegisterRow]
    total: int  # every matching threat, across all pages
    page: int
    pages: int
    query: RegisterQuery
    by_severity: list[Count]  # the matching threats by severity
    chips: list[Chip]
    options: RegisterOptions

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def notes(self) -> tuple[str, ...]:
        return self.query.notes

    @property
    def unlisted(self) -> dict[str, str]:
        """Filter values from the URL that no threat holds now (a shared link): the form keeps them selected."""
        q, o = self.query, self.options
        return {
            "status": q.status if q.status and q.status not in dict(o.statuses) else "",
            "type": q.threat_type
            if q.threat_type and q.threat_type.lower() not in {t.lower() for t in o.types}
            else "",
            "priority": q.priority if q.priority and q.priority not in dict(o.priorities) else "",
        }

    @property
    def previous_query(self) -> str:
        return self.query.query_string(page=self.page - 1)

    @property
    def next_query(self) -> str:
        return self.query.query_string(page=self.page + 1)

    @property
    def severity_links(self) -> list[tuple[Count, str]]:
        """Each severity's count of the matching threats, with the register narrowed to that severity."""
        return [(count, self.query.query_string(severities=(count.key,))) for count in self.by_severity]


@dataclass(frozen=True)
class RegisterAll:
    """Every matching threat, unpaged (the spreadsheets), with what describes them."""

    rows: list[RegisterRow]
    query: RegisterQuery
    by_severity: list[Count]
    filters: list[str]  # the active filters in words; empty: none


# -- reading -----------------------------------------------------------------------------------------------------
def _matching(organization: Any, user: Any, query: RegisterQuery, now: datetime) -> QuerySet[StoredThreat]:
    threats = _visible_threats(organization, user)
    if query.state != "all":
        threats = threats.filter(is_open=query.state == "open")
    if query.severities:
        threats = threats.filter(severity__in=query.severities)
    if query.status:
        threats = threats.filter(status=query.status)
    if query.models:
        threats = threats.filter(threat_model__tmi_id__in=query.models)
    if query.model_statuses:
        threats = threats.filter(threat_model__status__in=query.model_statuses)
    if query.threat_type:
        threats = threats.filter(threat_type__icontains=f"|{query.threat_type}|")
    if query.priority:
        threats = threats.filter(priority=query.priority)
    if query.ssvcs:
        threats = threats.filter(ssvc_decision__in=query.ssvcs)
    if query.older_than is not None:
        threats = threats.filter(created_at__lt=now - timedelta(days=query.older_than))
    if query.changed_within is not None:
        threats = threats.filter(modified_at__gte=now - timedelta(days=query.changed_within))
    if query.created_after is not None:
        threats = threats.filter(created_at__gt=query.created_after)
    if query.q:
        threats = threats.filter(
            Q(name__icontains=query.q)
            | Q(data__description__icontains=query.q)
            | Q(data__mitigation__icontains=query.q)
            | Q(threat_model__name__icontains=query.q)
        )
    return threats


_SEVERITY_RANK = Case(
    *[When(severity=key, then=Value(rank)) for rank, key in enumerate(SEVERITIES)],
    default=Value(len(SEVERITIES)),
    output_field=IntegerField(),
)
_NO_PRIORITY_LAST = Case(When(priority="", then=Value(1)), default=Value(0), output_field=IntegerField())
_OLDEST_FIRST = F("created_at").asc(nulls_last=True)
# Ties broken by the model's and the threat's TMI ids, so that pages never overlap.
_TIES = ("threat_model__tmi_id", "tmi_id")
_ORDERS = {
    "severity": (_SEVERITY_RANK, _OLDEST_FIRST, *_TIES),
    "name": (Lower("name"), *_TIES),
    "model": (Lower("threat_model__name"), _SEVERITY_RANK, _OLDEST_FIRST, *_TIES),
    "age": (_OLDEST_FIRST, _SEVERITY_RANK, *_TIES),
    "changed": (F("modified_at").desc(nulls_last=True), *_TIES),
    "priority": (_NO_PRIORITY_LAST, "priority", _SEVERITY_RANK, _OLDEST_FIRST, *_TIES),
    "score": (F("score").desc(nulls_last=True), _SEVERITY_RANK, *_TIES),
}
_ROW_FIELDS = (
    "tmi_id", "name", "severity", "status", "is_open", "priority", "score", "ssvc_decision", "threat_type",
    "created_at", "modified_at", "data", "threat_model__tmi_id", "threat_model__name", "threat_model__status",
    "threat_model__status_text", "threat_model__owner",
)  # fmt: skip


def _text(data: dict, key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def _row(values: dict, now: datetime) -> RegisterRow:
    data = values["data"] or {}
    created = values["created_at"]
    return RegisterRow(
        id=values["tmi_id"],
        name=values["name"],
        description=_text(data, "description"),
        severity=values["severity"],
        severity_label=severity_label(values["severity"]),
        status=values["status"],
        status_label=threat_status_label(values["status"], _text(data, "status")),
        is_open=values["is_open"],
        priority=values["priority"],
        priority_label=status_label(values["priority"], {}, _text(data, "priority")) if values["priority"] else "",
        score=values["score"],
        ssvc=values["ssvc_decision"],
        ssvc_label=str(SSVC_LABELS.get(values["ssvc_decision"], values["ssvc_decision"])),
        threat_types=tuple(t for t in (values["threat_type"] or "").split("|") if t),
        mitigation=_text(data, "mitigation"),
        model_id=values["threat_model__tmi_id"],
        model_name=values["threat_model__name"],
        model_status=values["threat_model__status"],
        model_status_label=tm_status_label(values["threat_model__status"], values["threat_model__status_text"]),
        model_owner=values["threat_model__owner"],
        created_at=created,
        modified_at=values["modified_at"],
        age_days=max(0, (now - created).days) if created else None,
    )


def _by_severity(threats: QuerySet[StoredThreat]) -> list[Count]:
    counts = {r["severity"]: r["n"] for r in threats.values("severity").annotate(n=CountOf("id")).order_by()}
    return severity_counts(counts)


def register_options_get(*, organization: Any, user: Any) -> RegisterOptions:
    """The filter form's choices, from the member's own models and threats."""
    visible = _visible_models(organization, user)
    threats = _visible_threats(organization, user)
    models = [
        (tmi_id, name) for tmi_id, name in visible.order_by(Lower("name"), "tmi_id").values_list("tmi_id", "name")
    ]
    statuses = sorted(set(threats.exclude(status="").values_list("status", flat=True).distinct()))
    types: dict[str, str] = {}
    for joined in threats.exclude(threat_type="").values_list("threat_type", flat=True).distinct():
        for name in joined.split("|"):
            if name:
                types.setdefault(name.lower(), name)
    priorities = sorted(set(threats.exclude(priority="").values_list("priority", flat=True).distinct()))
    model_statuses = list(TM_STATUSES) + sorted(
        {s for s in visible.values_list("status", flat=True).distinct() if s and s not in TM_STATUSES}
    )
    return RegisterOptions(
        models=models,
        statuses=[(key, threat_status_label(key)) for key in statuses],
        types=sorted(types.values(), key=str.lower),
        priorities=[(key, status_label(key, {}, "")) for key in priorities],
        model_statuses=[(key, tm_status_label(key)) for key in model_statuses],
    )


def _chip_label(kind: str, value: str, model_names: dict[str, str]) -> str:
    if kind == "severity":
        return _("Severity: %(value)s") % {"value": severity_label(value)}
    if kind == "state":
        return str(STATE_LABELS[value])
    if kind == "status":
        return _("Status: %(value)s") % {"value": threat_status_label(value)}
    if kind == "model":
        return _("Threat model: %(value)s") % {"value": model_names.get(value) or value}
    if kind == "model_status":
        return _("Threat model status: %(value)s") % {"value": tm_status_label(value)}
    if kind == "type":
        return _("Threat type: %(value)s") % {"value": value}
    if kind == "priority":
        return _("Priority: %(value)s") % {"value": status_label(value, {}, "")}
    if kind == "ssvc":
        return _("SSVC decision: %(value)s") % {"value": SSVC_LABELS[value]}
    if kind == "q":
        return _("Search: “%(value)s”") % {"value": value}
    if kind == "older_than":
        return _("Created more than %(days)s days ago") % {"days": value}
    if kind == "created_after":
        when = date_format(timezone.localtime(datetime.fromisoformat(value)), "j M Y, H:i")
        return _("Created after %(when)s") % {"when": when}
    return _("Changed in the last %(days)s days") % {"days": value}


def register_filters_words(query: RegisterQuery, model_names: dict[str, str] | None = None) -> list[str]:
    """The active filters in words (the spreadsheets' summary, an export's email); empty: none."""
    names = model_names or {}
    return [_chip_label(kind, value, names) for kind, value, _change in query.chips_source()]


def _not_visible_notes(query: RegisterQuery, model_names: dict[str, str]) -> tuple[str, ...]:
    """A model id in the link that the member does not see: kept (a shared link never shows more), and said."""
    return tuple(
        _("Threat model “%(value)s” is not one you can see in TMI; no threats of it are shown.") % {"value": m}
        for m in query.models
        if m not in model_names
    )


def _closed_status_note(query: RegisterQuery) -> tuple[str, ...]:
    """`?status=mitigated` alone asks for open threats with a closed status: none. Said, not silently changed."""
    if query.state == "open" and query.status in CLOSED_THREAT_STATUSES:
        return (
            _("A threat with the status “%(status)s” is not open; choose “%(all)s” to see such threats.")
            % {"status": threat_status_label(query.status), "all": STATE_LABELS["all"]},
        )
    return ()


def threat_register_get(*, organization: Any, user: Any, query: Any, page_size: int = PAGE_SIZE) -> RegisterPage:
    """One page of the register for the member, with its count (every match, across pages), the matching
    threats by severity, the active filters as removable chips, and the form's choices."""
    clean = query if isinstance(query, RegisterQuery) else register_query_clean(query)
    now = timezone.now()
    options = register_options_get(organization=organization, user=user)
    model_names = dict(options.models)
    clean = replace(clean, notes=clean.notes + _not_visible_notes(clean, model_names) + _closed_status_note(clean))
    matching = _matching(organization, user, clean, now)
    total = matching.count()
    pages = max(1, math.ceil(total / page_size))
    number = min(clean.page, pages)
    clean = replace(clean, page=number)
    shown = matching.order_by(*_ORDERS[clean.sort]).values(*_ROW_FIELDS)[(number - 1) * page_size : number * page_size]
    return RegisterPage(
        rows=[_row(values, now) for values in shown],
        total=total,
        page=number,
        pages=pages,
        query=clean,
        by_severity=_by_severity(matching),
        chips=[
            Chip(_chip_label(kind, value, model_names), clean.query_string(**change))
            for kind, value, change in clean.chips_source()
        ],
        options=options,
    )


def threat_register_all(*, organization: Any, user: Any, query: Any) -> RegisterAll:
    """Every matching threat in the register's order, unpaged: what the spreadsheets hold."""
    clean = query if isinstance(query, RegisterQuery) else register_query_clean(query)
    clean = replace(clean, page=1)
    now = timezone.now()
    matching = _matching(organization, user, clean, now)
    model_names = dict(_visible_models(organization, user).values_list("tmi_id", "name"))
    rows = [_row(values, now) for values in matching.order_by(*_ORDERS[clean.sort]).values(*_ROW_FIELDS).iterator()]
    return RegisterAll(
        rows=rows,
        query=clean,
        by_severity=_by_severity(matching),
        filters=register_filters_words(clean, model_names),
    )


def threat_model_list_all(
    *, organization: Any, user: Any, search: str = "", status: str = "", sort: str = ""
) -> ThreatModelListPage:
    """The model list page's every match (its own filters and sort, one page holding all): its spreadsheets."""
    everything = _visible_models(organization, user).count() or 1
    return threat_model_list_get(
        organization=organization, user=user, search=search, status=status, sort=sort, page=1, page_size=everything
    )
