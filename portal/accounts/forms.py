from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.accounts.selectors import SignInOptions


class SignInForm(forms.Form):
    """One provider's button on the sign-in page; the test IdP also takes a login hint."""

    provider = forms.CharField(max_length=100)
    login_hint = forms.CharField(max_length=254, required=False, strip=True)
    next = forms.CharField(required=False)  # checked by redirects.safe_next_url, never trusted
    # "Link this TMI account to <you>": only a signed-in ordinary user may (linking.py, checked in the view).
    link = forms.BooleanField(required=False)

    def __init__(self, *args, options: SignInOptions, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.options = options

    def clean(self):
        cleaned = super().clean()
        choice = next((p for p in self.options.providers if p.id == cleaned.get("provider")), None)
        if choice is None:
            raise forms.ValidationError(_("Choose one of the identity providers listed."), code="provider")
        hint = cleaned.get("login_hint") or ""
        if choice.is_test_idp:
            rule = self.options.hint_rule
            if not hint:
                self.add_error("login_hint", _("Enter a login hint: the name of the test user to sign in as."))
            elif not rule.matches(hint):
                self.add_error("login_hint", rule.help_text)
        else:
            cleaned["login_hint"] = ""
        return cleaned
