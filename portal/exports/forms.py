"""The schedule form the tenant-admin pages render; it parses, the services decide."""

from __future__ import annotations

from zoneinfo import available_timezones

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from portal.exports.models import Attachment, ExportSchedule, RunAs
from portal.exports.provenance import person_name, schedule_made_with, sent_to_words
from portal.exports.schedules import export_schedule_validate
from portal.organizations.models import Membership, Role

WEEKDAYS = [
    (0, _("Monday")),
    (1, _("Tuesday")),
    (2, _("Wednesday")),
    (3, _("Thursday")),
    (4, _("Friday")),
    (5, _("Saturday")),
    (6, _("Sunday")),
]


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
    filter_status = forms.CharField(label=_("Threat model status"), required=False, max_length=100)
    weekday = forms.TypedChoiceField(
        label=_("Weekday"), choices=[("", "—"), *WEEKDAYS], coerce=int, empty_value=None, required=False
    )
    timezone = forms.CharField(
        label=_("Time zone"),
        initial="UTC",
        max_length=64,
        help_text=_("A name such as Europe/Berlin, America/New_York or UTC."),
    )

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
        fields["attachment"] = data.get("attachment") or Attachment.PDF
        fields["recipients"] = data.get("recipients_text") or []
        fields["filters"] = {
            k: v for k, v in {"q": data.get("filter_q", ""), "status": data.get("filter_status", "")}.items() if v
        }
        return fields
