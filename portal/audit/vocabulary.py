"""Audit actions in plain words. Unknown actions (another part's new ones) show as they are."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

ACTION_LABELS = {
    "auth.sign_in": _("Signed in"),
    "auth.sign_out": _("Signed out"),
    "auth.identity_linked": _("Linked a TMI account to their portal account"),
    "member.invitation_accepted": _("Accepted an invitation"),
    "member.joined_by_domain": _("Joined by email domain"),
    "member.role_changed": _("Changed a role"),
    "member.removed": _("Removed a member"),
    "invitation.created": _("Invited someone"),
    "invitation.resent": _("Sent an invitation again"),
    "invitation.revoked": _("Withdrew an invitation"),
    "organization.domains_changed": _("Changed auto-join domains"),
    "organization.tmi_changed": _("Changed the TMI connection"),
    "organization.tmi_tested": _("Tested the TMI connection"),
    "organization.tmi_moved": _("Moved the organisation to another TMI server"),
    "member.relinked": _("Linked their account at the organisation's new TMI server"),
    "member.relink_sent": _("Sent a member a new link to the new TMI server"),
    "schedule.resumed_automatically": _("A report schedule resumed by itself"),
    "organization.credentials_set": _("Set TMI client credentials"),
    "organization.credentials_cleared": _("Removed TMI client credentials"),
    "organization.branding_changed": _("Changed the branding"),
    "export.requested": _("Asked for a report"),
    "export.succeeded": _("A report was ready"),
    "export.failed": _("A report failed"),
    "schedule.created": _("Created a report schedule"),
    "schedule.updated": _("Changed a report schedule"),
    "schedule.paused": _("Paused a report schedule"),
    "schedule.resumed": _("Resumed a report schedule"),
    "schedule.deleted": _("Deleted a report schedule"),
    "schedule.run_started": _("A scheduled report started"),
    "schedule.run_failed": _("A scheduled report failed"),
    "tokens.refresh_refused": _("TMI asked someone to sign in again"),
}


def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))
