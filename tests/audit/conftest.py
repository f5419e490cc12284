"""The admin area's small world (acme, globex and their people) serves the audit tests too."""

from tests.tenant_admin.conftest import world  # noqa: F401 - a fixture, used by name
