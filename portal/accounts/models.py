from __future__ import annotations

from django.conf import settings
from django.db import models
from encrypted_fields.fields import EncryptedTextField

from portal.organizations.models import Organization


class TMIConnection(models.Model):
    """One member's TMI identity and tokens for one organisation's TMI server.

    The tokens are encrypted at rest and never leave the server: pages and sockets ask the
    vault (vault.py) for an authenticated TMI client instead.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="tmi_connections")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tmi_connections")
    # The TMI server that issued the tokens: they are only ever sent there (vault.py), never to a server the
    # organisation moved to since (moving.py).
    tmi_base_url = models.CharField(max_length=200, blank=True)
    provider = models.CharField(max_length=100, help_text="the TMI identity provider the member signed in with")
    subject = models.CharField(max_length=255, help_text="the member's id at TMI (the JWT sub)")
    email = models.CharField(max_length=320, blank=True)
    display_name = models.CharField(max_length=255, blank=True)
    access_token = EncryptedTextField()
    refresh_token = EncryptedTextField(blank=True)
    expires_at = models.DateTimeField()
    # Set when TMI refused a refresh: the member must sign in again; nothing else is lost.
    needs_sign_in = models.BooleanField(default=False)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    # Held by whoever is refreshing the tokens at TMI right now (vault.py): the others wait for its result
    # rather than spend the single-use refresh token again, and no database lock is held while TMI answers.
    refresh_lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "user"], name="one_tmi_connection_per_member")]

    def __str__(self) -> str:
        return f"{self.user} at {self.organization} ({self.provider}:{self.subject})"

    def __repr__(self) -> str:  # never show tokens, even in debug output
        return f"<TMIConnection {self.pk} {self.organization_id}/{self.user_id}>"
