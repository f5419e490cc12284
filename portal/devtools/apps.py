from django.apps import AppConfig


class DevtoolsConfig(AppConfig):
    """Developer commands: the demo and the TMI sandbox. Product code never imports them."""

    name = "portal.devtools"
    label = "devtools"
