"""The tenant admin area: each organisation's owners and admins run it at /o/<slug>/admin/."""

from django.apps import AppConfig


class TenantAdminConfig(AppConfig):
    name = "portal.tenant_admin"
    verbose_name = "Tenant admin"

    def ready(self) -> None:
        from celery.signals import before_task_publish

        from portal.tenant_admin.heartbeat import on_task_publish

        # Beat's heartbeat is the moment it publishes the heartbeat task (heartbeat.py).
        before_task_publish.connect(on_task_publish, weak=False, dispatch_uid="portal-heartbeat-beat")
