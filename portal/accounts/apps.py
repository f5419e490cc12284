from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Signing in through TMI, and the token vault that keeps each member's TMI tokens."""

    name = "portal.accounts"
    label = "accounts"

    def ready(self) -> None:
        from portal.accounts.log_redaction import token_redaction_install
        from portal.accounts.moving import tmi_connections_forget
        from portal.organizations.services import organization_tmi_switched_subscribe

        token_redaction_install()
        # An organisation moved to another TMI server: its members' tokens belong to the old one.
        organization_tmi_switched_subscribe(tmi_connections_forget)
