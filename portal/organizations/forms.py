"""Forms of the tenant admin area: they parse and validate input; the services decide and write."""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils.translation import gettext_lazy as _

from portal.organizations.logo_images import LOGO_MAX_BYTES, LogoRefused, logo_prepare
from portal.organizations.models import Role, hex_colour
from portal.organizations.tmi_servers import tmi_address_validate

PROVIDER_ID = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("Email address"))
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.MEMBER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


def domains_parse(text: str) -> list[str]:
    """One domain per line or comma; '@' and case are forgiven, anything else that is not a domain is refused."""
    domains: list[str] = []
    bad: list[str] = []
    for item in re.split(r"[\s,;]+", text or ""):
        item = item.strip().lower().lstrip("@")
        if not item:
            continue
        (domains if DOMAIN.match(item) else bad).append(item)
    if bad:
        raise ValidationError(
            _("These are not email domains: %(bad)s. Write them like example.com."), params={"bad": ", ".join(bad[:5])}
        )
    return sorted(set(domains))


class DomainsForm(forms.Form):
    domains = forms.CharField(
        label=_("Email domains that join automatically"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line, e.g. example.com. Leave empty to admit by invitation only."),
    )

    def clean_domains(self) -> list[str]:
        return domains_parse(self.cleaned_data["domains"])


class TMISettingsForm(forms.Form):
    tmi_base_url = forms.URLField(
        label=_("TMI server address"),
        max_length=200,
        assume_scheme="https",
        help_text=_("e.g. https://tmi.example.com"),
    )
    identity_providers = forms.MultipleChoiceField(
        label=_("Sign-in options to offer"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Tick none to offer every option the TMI server has."),
    )

    def clean_tmi_base_url(self) -> str:
        url = self.cleaned_data["tmi_base_url"]
        tmi_address_validate(url)  # and again on every use: DNS may change after saving
        return url

    def __init__(self, *args, provider_choices: list[tuple[str, str]] = (), **kwargs):
        super().__init__(*args, **kwargs)
        # Keep ids already chosen even when the server is unreachable now, so saving loses nothing.
        known = dict(provider_choices)
        for chosen in self.initial.get("identity_providers") or []:
            known.setdefault(chosen, chosen)
        if self.is_bound:
            for chosen in self.data.getlist("identity_providers") if hasattr(self.data, "getlist") else []:
                known.setdefault(chosen, chosen)
        self.fields["identity_providers"].choices = sorted(
            (key, label) for key, label in known.items() if PROVIDER_ID.match(key)
        )


class ClientCredentialsForm(forms.Form):
    client_id = forms.CharField(label=_("Client id"), max_length=255)
    client_secret = forms.CharField(
        label=_("Client secret"), widget=forms.PasswordInput(render_value=False), max_length=4000
    )


class ConnectionTestForm(forms.Form):
    tmi_base_url = forms.URLField(label=_("TMI server address"), max_length=200, required=False, assume_scheme="https")


class BrandingForm(forms.Form):
    name = forms.CharField(label=_("Organisation name"), max_length=200)
    brand_colour = forms.CharField(
        label=_("Brand colour"), max_length=7, validators=[hex_colour], widget=forms.TextInput(attrs={"type": "color"})
    )
    logo = forms.FileField(
        label=_("Logo"),
        required=False,
        help_text=_(
            "A PNG or JPEG image, at most 512 KB and 4096×4096 pixels. It is stored as a PNG of at most 512×256 pixels."
        ),
    )
    remove_logo = forms.BooleanField(label=_("Remove the current logo"), required=False)

    def clean_brand_colour(self) -> str:
        return self.cleaned_data["brand_colour"].lower()

    def clean_logo(self):
        return logo_upload_clean(self.cleaned_data.get("logo"))


def logo_upload_clean(logo) -> ContentFile | None:
    """An uploaded logo -> the re-encoded PNG to store (logo_images.py), or a ValidationError in words.
    Shared by the branding page and Django admin, so both store only what the rules allow."""
    if not logo:
        return None
    if logo.size > LOGO_MAX_BYTES:  # refused before a byte is read into memory
        raise ValidationError(
            _("The logo is too large (%(kb)s KB); use an image of at most %(max)s KB."),
            params={"kb": logo.size // 1024, "max": LOGO_MAX_BYTES // 1024},
        )
    logo.seek(0)
    try:
        prepared = logo_prepare(logo.read(LOGO_MAX_BYTES + 1))
    except LogoRefused as refusal:
        raise ValidationError(refusal.message) from None
    return ContentFile(prepared, name="logo.png")
