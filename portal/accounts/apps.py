from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Signing in through TMI, and the token vault that keeps each member's TMI tokens."""

    name = "portal.accounts"
    label = "accounts"
