"""The schedule form the tenant-admin pages render; it parses, the services decide."""

from __future__ import annotations

from uuid import UUID
from zoneinfo import available_timezones

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from portal.exports.models import Attachment, ExportSchedule, RunAs
from portal.exports.provenance import WEEKDAYS, person_name, schedule_made_with, sent_to_words
from portal.exports.schedules import export_schedule_validate
from portal.organizations.models import Membership, Role
from portal.portfolio.selectors import threat_model_choices
from portal.portfolio.vocabulary import TM_STATUS_LABELS, TM_STATUSES

# Which fields each kind and each frequency needs: the page shows only those (the others are hidden, and the
# services drop what a kind or frequency does not use). Fields under "More options" start folded away.
SHOWN_FOR_KIND = {"threat_model_id": "threat_model", "filter_q": "filter", "filter_status": "filter"}
SHOWN_FOR_FREQUENCY = {"weekday": "weekly", "day_of_month": "monthly"}
MORE_OPTIONS = ("attachment", "run_as", "paused")


class ExportScheduleForm(forms.ModelForm):
    """`ExportScheduleForm(data, organization=org, actor=user, instance=schedule)`; then
    `export_schedule_create(organization=org, actor=user, **form.schedule_fields())`.

    There is no field for whose access the report is made with: it is the person saving (`actor`), or,
    offered to owners only and only when credentials are stored, the organisation's service account."""

    recipients_text = forms.CharField(
        label=_("Send to"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Members' email addresses, one per line or separated by commas. The file also stays in the portal."
        ),
    )
    filter_q = forms.CharField(label=_("Names containing"), required=False, max_length=200)
    filter_status = forms.ChoiceField(label=_("Threat model status"), required=False)
    threat_model_id = forms.TypedChoiceField(
        label=_("Threat model"),
        required=False,
        coerce=UUID,
        empty_value=None,
        help_text=_("The threat models you can see in TMI, by name. Type in the search box to narrow the list."),
    )
    weekday = forms.TypedChoiceField(
        label=_("Weekday"), choices=WEEKDAYS, coerce=int, empty_value=None, required=False, initial=0
    )
    timezone = forms.CharField(
        label=_("Time zone"),
        initial="UTC",
        max_length=64,
        help_text=_("A name such as Europe/Berlin, America/New_York or UTC."),
    )

    field_order = [
        "name", "kind", "frequency", "threat_model_id", "filter_q", "filter_status", "weekday", "day_of_month",
        "time_of_day", "timezone", "recipients_text", "attachment", "run_as", "paused",
    ]  # fmt: skip

    class Meta:
        model = ExportSchedule
        fields = [
            "name",
            "kind",
            "threat_model_id",
            "frequency",
            "time_of_day",
            "weekday",
            "day_of_month",
            "timezone",
            "run_as",
            "paused",
            "attachment",
        ]
        widgets = {
            "time_of_day": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "day_of_month": forms.NumberInput(attrs={"min": 1, "max": 28}),
        }

    def __init__(self, *args, organization, actor, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.organization, self.actor = organization, actor
        membership = Membership.objects.filter(organization=organization, user_id=actor.pk).first()
        self.actor_is_owner = membership is not None and membership.role == Role.OWNER
        self.actor_name = person_name(actor)
        credentials = bool(organization.tmi_client_id and organization.tmi_client_secret)
        run_as = self.fields["run_as"]
        if self.actor_is_owner and credentials:
            run_as.choices = RunAs.choices
            run_as.help_text = _(
                "The service account is the TMI client credentials stored under Admin → TMI "
                "connection (TMI 1.8 and later): recipients receive everything it can read."
            )
        else:
            run_as.choices = [(RunAs.OWNER, RunAs.OWNER.label)]
            run_as.help_text = (
                _("Only an owner may choose the organisation's TMI service account.") if credentials else ""
            )
        run_as.required = False  # one choice offered: nothing to ask; the services default to the saver's own
        self.offers_run_as = len(run_as.choices) > 1
        self._threat_model_choices(organization, actor)
        statuses = [(key, TM_STATUS_LABELS[key]) for key in TM_STATUSES]
        saved_status = (self.instance.filters or {}).get("status", "") if self.instance.pk else ""
        posted_status = self.data.get("filter_status", "") if self.is_bound else ""
        for extra in (saved_status, posted_status):  # a status TMI holds beyond its five stays choosable
            if extra and extra not in dict(statuses):
                statuses.append((extra, extra))
        self.fields["filter_status"].choices = [("", _("Any status")), *statuses]
        self.switches_to_actor = False
        if self.instance.pk:
            # Saving hands the schedule over to whoever saves it; say so before they do.
            self.switches_to_actor = self.instance.owner_id != actor.pk or (
                self.instance.run_as == RunAs.CLIENT_CREDENTIALS and not self.actor_is_owner
            )
            self.current_made_with = schedule_made_with(self.instance)
            if self.instance.run_as == RunAs.CLIENT_CREDENTIALS and not self.actor_is_owner:
                self.initial["run_as"] = RunAs.OWNER
        # Forms posted before the choice existed (and API-like posts) keep today's behaviour: the PDF alone.
        self.fields["attachment"].required = False
        self.fields["attachment"].help_text = _(
            "The spreadsheet lists the open threats of the same threat models, read with the same TMI access."
        )
        self.fields["timezone"].widget.attrs["list"] = "timezones"
        self.timezone_names = sorted(available_timezones())
        if self.instance.pk:
            self.initial.setdefault("recipients_text", "\n".join(self.instance.recipients or []))
            self.initial.setdefault("filter_q", (self.instance.filters or {}).get("q", ""))
            self.initial.setdefault("filter_status", (self.instance.filters or {}).get("status", ""))

    def _threat_model_choices(self, organization, actor) -> None:
        """The models the saver can see, by name; a saved (or posted) model they cannot see now stays listed by
        its id, so saving keeps it. Running the report uses the saver's TMI access either way."""
        choices = [(tmi_id, name) for tmi_id, name in threat_model_choices(organization=organization, user=actor)]
        known = {tmi_id for tmi_id, _ in choices}
        kept = [str(self.instance.threat_model_id)] if self.instance.pk and self.instance.threat_model_id else []
        if self.is_bound and self.data.get("threat_model_id"):
            kept.append(str(self.data.get("threat_model_id")))
        for tmi_id in kept:
            if tmi_id not in known:
                choices.append((tmi_id, _("A threat model you cannot see now (%(id)s)") % {"id": tmi_id}))
                known.add(tmi_id)
        self.fields["threat_model_id"].choices = [("", _("Choose a threat model")), *choices]
        self.has_threat_models = bool(choices)

    def layout(self) -> dict:
        """For the template: the fields shown at first, those folded under "More options", and for each field
        the kind or frequency it belongs to (so the page can hide it, and the script show it on a change)."""
        kind = self["kind"].value() or ExportSchedule._meta.get_field("kind").default
        frequency = self["frequency"].value() or ExportSchedule._meta.get_field("frequency").default
        rows, more = [], []
        for bound in self:
            name = bound.name
            if name == "run_as" and not self.offers_run_as:
                continue
            if name == "paused" and not self.instance.pk:
                continue  # a new schedule runs; pausing is a button on the list
            when_kind, when_frequency = SHOWN_FOR_KIND.get(name), SHOWN_FOR_FREQUENCY.get(name)
            hidden = (when_kind is not None and when_kind != kind) or (
                when_frequency is not None and when_frequency != frequency
            )
            entry = {"field": bound, "when_kind": when_kind, "when_frequency": when_frequency, "hidden": hidden}
            (more if name in MORE_OPTIONS else rows).append(entry)
        return {"rows": rows, "more": more, "more_open": any(entry["field"].errors for entry in more)}

    def recipients_words(self) -> str:
        """Who receives the report, as the form stands (what was typed, or what is saved)."""
        if self.is_bound:
            text = self.data.get("recipients_text", "")
            recipients = [p.strip() for p in text.replace(",", "\n").splitlines() if p.strip()]
        else:
            recipients = list(self.instance.recipients or []) if self.instance.pk else []
        return sent_to_words(recipients)

    def clean_recipients_text(self) -> list[str]:
        text = self.cleaned_data.get("recipients_text", "")
        return [part.strip() for part in text.replace(",", "\n").splitlines() if part.strip()]

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        candidate = ExportSchedule(
            organization=self.organization, owner=self.actor, **{k: v for k, v in self.schedule_fields().items()}
        )
        try:
            export_schedule_validate(organization=self.organization, schedule=candidate)
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                target = {"recipients": "recipients_text", "filters": "filter_q"}.get(field, field)
                self.add_error(target if target in self.fields else None, messages)
        return cleaned

    def _post_clean(self) -> None:  # the services save and validate the instance, not the ModelForm
        pass

    def schedule_fields(self) -> dict:
        data = self.cleaned_data
        fields = {name: data.get(name) for name in self.Meta.fields}
        fields["paused"] = bool(data.get("paused"))
        fields["run_as"] = data.get("run_as") or RunAs.OWNER
        fields["attachment"] = data.get("attachment") or Attachment.PDF
        fields["recipients"] = data.get("recipients_text") or []
        fields["filters"] = {
            k: v for k, v in {"q": data.get("filter_q", ""), "status": data.get("filter_status", "")}.items() if v
        }
        return fields
