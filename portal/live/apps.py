from django.apps import AppConfig


class LiveConfig(AppConfig):
    name = "portal.live"
    verbose_name = "Live diagrams"

    def ready(self) -> None:
        from portal.accounts.refresh import tmi_background_work_register
        from portal.live.selectors import live_connection_open_condition

        # An open live socket keeps its member's TMI tokens fresh in the background.
        tmi_background_work_register(live_connection_open_condition)
