"""Organisations are the portal's tenants. Every tenant-owned row carries `organization`."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from encrypted_fields.fields import EncryptedTextField

hex_colour = RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Use a colour such as #1f6feb."))


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    ADMIN = "admin", _("Admin")
    MEMBER = "member", _("Member")

    @property
    def rank(self) -> int:
        return {"member": 1, "admin": 2, "owner": 3}[self.value]

    def at_least(self, other: Role) -> bool:
        return self.rank >= Role(other).rank


class Organization(models.Model):
    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=64, unique=True)
    tmi_base_url = models.URLField(_("TMI server URL"), help_text=_("e.g. https://tmi.example.com"))
    identity_providers = models.JSONField(
        _("identity providers offered"),
        default=list,
        blank=True,
        help_text=_("Provider ids from the TMI server's list; empty offers every provider."),
    )
    allowed_email_domains = models.JSONField(
        _("email domains that join automatically"),
        default=list,
        blank=True,
    )
    brand_colour = models.CharField(_("brand colour"), max_length=7, default="#1f6feb", validators=[hex_colour])
    logo = models.FileField(_("logo"), upload_to="logos/", blank=True)
    # Optional TMI client credentials for scheduled work that runs as the organisation rather than
    # as a member. The secret is encrypted at rest and never shown back on any page.
    tmi_client_id = models.CharField(_("TMI client id"), max_length=255, blank=True)
    tmi_client_secret = EncryptedTextField(_("TMI client secret"), blank=True, null=True)
    # Shared by every process of the portal and every organisation on the same server (tmi_gates.py).
    tmi_max_concurrency = models.PositiveSmallIntegerField(
        _("TMI calls at once"),
        default=4,
        validators=[MinValueValidator(1), MaxValueValidator(16)],
        help_text=_(
            "The most calls the portal has open at this TMI server at once, for pages, exports and live "
            "sessions together. A TMI 0.217 server deadlocks at about 7; raise it only for a server that copes."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "user"], name="one_membership_per_user")]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"

    @property
    def can_administer(self) -> bool:
        """Owners and admins run the organisation's admin area."""
        return Role(self.role).at_least(Role.ADMIN)


class Invitation(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    # Only a hash is kept: the link in the email is the one copy of the token.
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.email} to {self.organization}"


class MembershipRelink(models.Model):
    """A member's way back in after their organisation moved to another TMI server (a new address for the
    same TMI, or another TMI): their identity at the old server no longer matches, and the new server's word
    (an email, "verified" or not) never makes anyone an existing person. So each member gets a link (single
    use, expiring; only its hash is kept) that links the identity they then sign in with at the new server
    to their existing account, membership, schedules and history. At most one per membership; a later move
    or "send again" replaces it (the old link stops working)."""

    membership = models.OneToOneField(Membership, on_delete=models.CASCADE, related_name="relink")
    # The server the link is for: the organisation's address when it was made.
    tmi_base_url = models.URLField(max_length=200)
    token_hash = models.CharField(max_length=64, unique=True)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"re-link of {self.membership}"
