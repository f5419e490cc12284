from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "portal.exports"
    verbose_name = "Exports"

    def ready(self) -> None:
        from portal.accounts.refresh import tmi_background_work_register
        from portal.accounts.vault import tmi_sign_in_required_subscribe
        from portal.exports.schedules import export_schedules_check_connection, export_schedules_recheck_person
        from portal.exports.selectors import export_schedule_active_condition
        from portal.organizations.services import membership_tmi_access_subscribe

        # TMI refused to renew a member's access: pause the schedules that run as them, tell the owners.
        tmi_sign_in_required_subscribe(export_schedules_check_connection)
        # An active schedule that runs with a member's own access keeps that member's refresh token alive (its
        # runs refresh the access token themselves, when they start).
        tmi_background_work_register(export_schedule_active_condition, continuous=False)
        # The organisation moved to another TMI server: schedules wait for their person to re-link, then resume.
        membership_tmi_access_subscribe(export_schedules_recheck_person)
