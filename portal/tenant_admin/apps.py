from django.apps import AppConfig


class TenantAdminConfig(AppConfig):
    name = "portal.tenant_admin"
    verbose_name = "Tenant admin"
