"""The schedule form the tenant-admin pages render; it parses, the services decide."""
from __future__ import annotations

from zoneinfo import available_timezones

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from portal.exports.models import ExportSchedule
from portal.exports.schedules import export_schedule_validate
from portal.organizations.models import Membership

WEEKDAYS = [(0, _("Monday")), (1, _("Tuesday")), (2, _("Wednesday")), (3, _("Thursday")), (4, _("Friday")),
            (5, _("Saturday")), (6, _("Sunday"))]


class ExportScheduleForm(forms.ModelForm):
    """`ExportScheduleForm(data, organization=org, instance=schedule)`; then
    `export_schedule_create(organization=org, actor=user, **form.schedule_fields())`."""

    recipients_text = forms.CharField(
        label=_("Send to"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Members' email addresses, one per line or separated by commas. The file also stays in the portal."))
    filter_q = forms.CharField(label=_("Names containing"), required=False, max_length=200)
    filter_status = forms.CharField(label=_("Threat model status"), required=False, max_length=100)
    weekday = forms.TypedChoiceField(label=_("Weekday"), choices=[("", "—"), *WEEKDAYS], coerce=int,
                                     empty_value=None, required=False)
    timezone = forms.CharField(label=_("Time zone"), initial="UTC", max_length=64,
                               help_text=_("A name such as Europe/Berlin, America/New_York or UTC."))

    class Meta:
        model = ExportSchedule
        fields = ["name", "kind", "threat_model_id", "frequency", "time_of_day", "weekday", "day_of_month",
                  "timezone", "run_as", "owner", "paused"]
        widgets = {"time_of_day": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                   "day_of_month": forms.NumberInput(attrs={"min": 1, "max": 28})}

    def __init__(self, *args, organization, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.organization = organization
        members = Membership.objects.filter(organization=organization).select_related("user")
        self.fields["owner"].queryset = get_user_model().objects.filter(pk__in=members.values("user_id"))
        self.fields["owner"].help_text = _("The export runs with this member's TMI access, unless it runs with "
                                           "the organisation's client credentials; either way they hear of failures.")
        self.fields["run_as"].help_text = _("Client credentials are a TMI service account an admin stores under "
                                            "Admin → TMI connection (TMI 1.8 and later).")
        self.fields["timezone"].widget.attrs["list"] = "timezones"
        self.timezone_names = sorted(available_timezones())
        if self.instance.pk:
            self.initial.setdefault("recipients_text", "\n".join(self.instance.recipients or []))
            self.initial.setdefault("filter_q", (self.instance.filters or {}).get("q", ""))
            self.initial.setdefault("filter_status", (self.instance.filters or {}).get("status", ""))

    def clean_recipients_text(self) -> list[str]:
        text = self.cleaned_data.get("recipients_text", "")
        return [part.strip() for part in text.replace(",", "\n").splitlines() if part.strip()]

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        candidate = ExportSchedule(organization=self.organization,
                                   **{k: v for k, v in self.schedule_fields().items()})
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
        fields["recipients"] = data.get("recipients_text") or []
        fields["filters"] = {k: v for k, v in {"q": data.get("filter_q", ""),
                                                "status": data.get("filter_status", "")}.items() if v}
        return fields
