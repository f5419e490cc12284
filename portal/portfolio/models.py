"""The portfolio store: what TMI holds for an organisation, synced (portfolio/sync.py), with what the portal
derives from it, who may see which model (visible sets), and the history of changes.

TMI stays the source of truth. Rows are keyed by the organisation and TMI's id; each keeps TMI's own answer
(`data`, the typed model dumped as JSON) beside the columns pages filter and sort on. A model or threat TMI no
longer has is marked `gone_at`, never silently kept. Every row has an organisation key.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from portal.organizations.models import Organization

SYNC_LEASE_SECONDS = 900  # a pass that has not finished in this long died with its worker


class SyncState(models.Model):
    """Where the organisation's sync stands: what pages say about freshness and first-visit progress."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="portfolio_sync")
    tmi_base_url = models.CharField(max_length=200, blank=True)  # the server the store was read from
    running_since = models.DateTimeField(null=True, blank=True)  # a lease: a sync older than the lease is dead
    models_total = models.PositiveIntegerField(default=0)
    models_done = models.PositiveIntegerField(default=0)
    last_sync_at = models.DateTimeField(null=True, blank=True)  # the last sync that finished
    last_full_sync_at = models.DateTimeField(null=True, blank=True)
    last_calls = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    requested_at = models.DateTimeField(null=True, blank=True)  # someone asked for a sync (sign-in, refresh)

    def __str__(self) -> str:
        return f"sync of {self.organization_id}"


class StoredThreatModel(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="stored_threat_models")
    tmi_id = models.CharField(max_length=64)
    name = models.CharField(max_length=1000, blank=True)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=200, blank=True)  # vocabulary key (term_key of TMI's text)
    status_text = models.CharField(max_length=200, blank=True)  # TMI's own words
    owner = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(null=True, blank=True)  # TMI's
    modified_at = models.DateTimeField(null=True, blank=True)  # TMI's (child writes leave it alone)
    threat_count = models.IntegerField(null=True, blank=True)  # TMI's list count, follows creates and deletes
    item = models.JSONField(default=dict)  # the list item, as TMI gave it
    detail = models.JSONField(null=True, blank=True)  # GET /threat_models/{id}, without embedded children
    documents = models.JSONField(default=list)
    assets = models.JSONField(default=list)
    notes = models.JSONField(default=list)  # with their content
    repositories = models.JSONField(default=list)
    # Derived from the stored threats (portfolio/derive.py).
    open_by_severity = models.JSONField(default=dict)
    open_total = models.PositiveIntegerField(default=0)
    threats_total = models.PositiveIntegerField(default=0)
    risk_score = models.PositiveIntegerField(default=0)
    # Sync bookkeeping.
    content_synced_at = models.DateTimeField(null=True, blank=True)  # detail and children last read
    content_modified_at = models.DateTimeField(null=True, blank=True)  # TMI's modified_at when they were read
    threats_synced_at = models.DateTimeField(null=True, blank=True)
    threats_cursor = models.DateTimeField(null=True, blank=True)  # the latest threat modified_at seen (TMI's clock)
    synced_at = models.DateTimeField(null=True, blank=True)
    gone_at = models.DateTimeField(null=True, blank=True)
    viewed_at = models.DateTimeField(null=True, blank=True)  # a member opened it: synced first
    sync_requested_at = models.DateTimeField(null=True, blank=True)  # "Refresh now", a live session

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "tmi_id"], name="stored_tm_unique")]
        indexes = [models.Index(fields=["organization", "gone_at"], name="stored_tm_live")]

    def __str__(self) -> str:
        return self.name or self.tmi_id


class StoredThreat(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    threat_model = models.ForeignKey(StoredThreatModel, on_delete=models.CASCADE, related_name="threats")
    tmi_id = models.CharField(max_length=64)
    name = models.CharField(max_length=1000, blank=True)
    severity = models.CharField(max_length=100, blank=True)  # vocabulary key
    status = models.CharField(max_length=200, blank=True)  # vocabulary key
    is_open = models.BooleanField(default=True)
    # What the register filters and sorts on, from `data` (portfolio/store.py `_threat_fields`).
    threat_type = models.CharField(max_length=1000, blank=True)  # TMI's types as "|Spoofing|Tampering|"
    priority = models.CharField(max_length=100, blank=True)  # vocabulary key
    score = models.FloatField(null=True, blank=True)  # TMI's own score (0-10), as TMI holds it
    # 1.8's ssvc.decision as a vocabulary key: "immediate", "out_of_cycle", "scheduled", "defer".
    ssvc_decision = models.CharField(max_length=50, blank=True)
    created_at = models.DateTimeField(null=True, blank=True)  # TMI's
    modified_at = models.DateTimeField(null=True, blank=True)  # TMI's
    data = models.JSONField(default=dict)
    synced_at = models.DateTimeField(null=True, blank=True)
    gone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["threat_model", "tmi_id"], name="stored_threat_unique")]
        indexes = [models.Index(fields=["organization", "gone_at"], name="stored_threat_live")]

    def __str__(self) -> str:
        return self.name or self.tmi_id


class StoredDiagram(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    threat_model = models.ForeignKey(StoredThreatModel, on_delete=models.CASCADE, related_name="diagrams")
    tmi_id = models.CharField(max_length=64)
    name = models.CharField(max_length=1000, blank=True)
    position = models.PositiveIntegerField(default=0)  # TMI's order
    data = models.JSONField(default=dict)  # with its cells
    cells_key = models.CharField(max_length=64, blank=True)  # a hash of the cells the SVG was drawn from
    svg = models.TextField(blank=True)
    modified_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    gone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["threat_model", "tmi_id"], name="stored_diagram_unique")]

    def __str__(self) -> str:
        return self.name or self.tmi_id


class VisibleSet(models.Model):
    """The threat models TMI lists for one member (their own token, their own GET /threat_models), or for the
    organisation's service account (`user` empty). Pages show only these, whatever else the store holds."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="visible_sets")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="visible_sets"
    )
    read_at = models.DateTimeField(null=True, blank=True)  # None: never read yet
    wanted_at = models.DateTimeField(null=True, blank=True)  # the member last opened a page: they are active

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user"], condition=Q(user__isnull=False), name="visible_set_member"
            ),
            models.UniqueConstraint(
                fields=["organization"], condition=Q(user__isnull=True), name="visible_set_service_account"
            ),
        ]

    def __str__(self) -> str:
        return f"visible set of {self.user_id or 'service account'} in {self.organization_id}"


class VisibleModel(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    visible_set = models.ForeignKey(VisibleSet, on_delete=models.CASCADE, related_name="entries")
    threat_model = models.ForeignKey(StoredThreatModel, on_delete=models.CASCADE, related_name="visible_in")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["visible_set", "threat_model"], name="visible_model_unique")]

    def __str__(self) -> str:
        return f"{self.threat_model_id} in {self.visible_set_id}"


class ChangeKind(models.TextChoices):
    MODEL_CREATED = "model_created", "Threat model created"
    MODEL_STATUS = "model_status", "Threat model status changed"
    MODEL_GONE = "model_gone", "Threat model deleted"
    THREAT_CREATED = "threat_created", "Threat created"
    THREAT_CLOSED = "threat_closed", "Threat closed"
    THREAT_REOPENED = "threat_reopened", "Threat reopened"
    THREAT_SEVERITY = "threat_severity", "Threat severity changed"
    THREAT_STATUS = "threat_status", "Threat status changed"
    THREAT_GONE = "threat_gone", "Threat deleted"


class Change(models.Model):
    """One change the sync saw, with TMI's timestamp where it has one (else when the sync saw it)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="portfolio_changes")
    threat_model = models.ForeignKey(StoredThreatModel, on_delete=models.CASCADE, related_name="changes")
    threat_tmi_id = models.CharField(max_length=64, blank=True)
    subject = models.CharField(max_length=1000, blank=True)  # the threat's or model's name then
    kind = models.CharField(max_length=32, choices=ChangeKind.choices)
    before = models.CharField(max_length=200, blank=True)
    after = models.CharField(max_length=200, blank=True)
    happened_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "happened_at"], name="change_org_time")]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject}"


class DailySnapshot(models.Model):
    """A model's counts on one day (the last sync of the day wins): trends without replaying history."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    threat_model = models.ForeignKey(StoredThreatModel, on_delete=models.CASCADE, related_name="snapshots")
    day = models.DateField()
    status = models.CharField(max_length=200, blank=True)
    open_by_severity = models.JSONField(default=dict)
    open_total = models.PositiveIntegerField(default=0)
    threats_total = models.PositiveIntegerField(default=0)
    risk_score = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["threat_model", "day"], name="snapshot_unique")]
        indexes = [models.Index(fields=["organization", "day"], name="snapshot_org_day")]

    def __str__(self) -> str:
        return f"{self.threat_model_id} on {self.day}"


class MemberVisit(models.Model):
    """When a member last looked at the organisation's overview: "since your last visit" counts from
    `previous_at` (the visit before the current one; a visit is a run of page views with no long gap)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    last_seen_at = models.DateTimeField()
    previous_at = models.DateTimeField(null=True, blank=True)  # None: this is their first visit

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "user"], name="member_visit_unique")]

    def __str__(self) -> str:
        return f"visit of {self.user_id} in {self.organization_id}"
