from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Signing in through TMI, and the token vault that keeps each member's TMI tokens."""

    name = "portal.accounts"
    label = "accounts"

    def ready(self) -> None:
        from portal.accounts.log_redaction import token_redaction_install

        token_redaction_install()
