from django.apps import AppConfig


class PortfolioConfig(AppConfig):
    name = "portal.portfolio"
    verbose_name = "Portfolio store"

    def ready(self) -> None:
        from portal.accounts.vault import tmi_connection_subscribe
        from portal.portfolio.visibility import visible_set_drop, visible_set_signed_in

        # A sign-in reads the member's visible set (and syncs) at once; a sign-out or a refused token drops it.
        tmi_connection_subscribe(stored=visible_set_signed_in, ended=visible_set_drop)
