"""The audit log's filter: the same fields for the page and for the CSV download."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.audit.vocabulary import action_label


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(label=_("What"), required=False)
    actor = forms.CharField(label=_("Who"), required=False, max_length=320)
    since = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    q = forms.CharField(label=_("Text"), required=False, max_length=200)

    def __init__(self, *args, actions: list[str] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", _("Anything"))] + [(a, action_label(a)) for a in actions]

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError(_("The start date is after the end date."))
        return data

    def selector_filters(self) -> dict:
        """Keyword arguments for audit_events_list; the end date counts in full."""
        data = self.cleaned_data if self.is_valid() else {}
        zone = timezone.get_current_timezone()

        def day_start(day) -> datetime:
            return datetime.combine(day, time.min, tzinfo=zone)

        return {
            "action": data.get("action") or None,
            "actor": data.get("actor") or None,
            "since": day_start(data["since"]) if data.get("since") else None,
            "until": day_start(data["until"] + timedelta(days=1)) if data.get("until") else None,
            "text": data.get("q") or None,
        }
