from django.apps import AppConfig


class ConformanceConfig(AppConfig):
    """Only for `manage.py tmi_conformance`: no models, no URLs."""

    name = "portal.conformance"
    verbose_name = "TMI conformance"
