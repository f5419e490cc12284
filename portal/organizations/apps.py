from django.apps import AppConfig


class OrganizationsConfig(AppConfig):
    """Tenants: organisations, their members and roles, invitations, and the one resolver."""

    name = "portal.organizations"
    label = "organizations"
