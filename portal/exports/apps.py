from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "portal.exports"
    verbose_name = "Exports"

    def ready(self) -> None:
        from portal.accounts.vault import tmi_sign_in_required_subscribe
        from portal.exports.schedules import export_schedules_check_connection

        # TMI refused to renew a member's access: pause the schedules that run as them, tell the owners.
        tmi_sign_in_required_subscribe(export_schedules_check_connection)
