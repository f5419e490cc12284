"""Whether this configuration may serve people: the portal's servers refuse the development secrets.

The development defaults of DJANGO_SECRET_KEY and PORTAL_FIELD_ENCRYPTION_SALT are public (they are in
this file), and together they derive the keys that decrypt every stored TMI token and client secret.
So every process that serves the portal or acts for its members (daphne through portal/asgi.py, the
Celery worker and beat through portal/celery.py) calls `serving_secrets_require()` before it starts,
and refuses to start while DEBUG is off and either is still the default. `manage.py check --deploy`
reports the same as an error (portal.E001).

Administrative commands (migrate, createsuperuser, tmi_sandbox, collectstatic, demo) do not refuse:
they neither serve nor store a secret, so a new checkout runs them with nothing set.
"""

from __future__ import annotations

from django.core.checks import Error, Tags, register
from django.core.exceptions import ImproperlyConfigured

DEVELOPMENT_SECRET_KEY = "dev-insecure-portal-key-change-me"
DEVELOPMENT_FIELD_SALT = "dev-insecure-field-salt"


def development_secrets_in_use(*, secret_key: str, salts: list[str]) -> list[str]:
    """The environment variables still at their development default, by name."""
    names = []
    if secret_key == DEVELOPMENT_SECRET_KEY:
        names.append("DJANGO_SECRET_KEY")
    if DEVELOPMENT_FIELD_SALT in salts:
        names.append("PORTAL_FIELD_ENCRYPTION_SALT")
    return names


def _problem(names: list[str]) -> str:
    return (
        f"{' and '.join(names)} {'is' if len(names) == 1 else 'are'} still the public development default, "
        "and DEBUG is off. Set DJANGO_SECRET_KEY and PORTAL_FIELD_ENCRYPTION_SALT to long random values "
        'of your own (e.g. python -c "import secrets; print(secrets.token_urlsafe(50))"), or set '
        "DJANGO_DEBUG=true on a development machine. `python manage.py demo` makes and keeps its own."
    )


def serving_secrets_require() -> None:
    """Raise ImproperlyConfigured if this process would serve with DEBUG off on a development secret."""
    from django.conf import settings

    names = development_secrets_in_use(secret_key=settings.SECRET_KEY, salts=list(settings.SALT_KEY))
    if names and not settings.DEBUG:
        raise ImproperlyConfigured(_problem(names))


@register(Tags.security, deploy=True)
def development_secrets_check(app_configs, **kwargs) -> list[Error]:
    """`manage.py check --deploy`: the same rule, whatever DEBUG says (a deployment has DEBUG off)."""
    from django.conf import settings

    names = development_secrets_in_use(secret_key=settings.SECRET_KEY, salts=list(settings.SALT_KEY))
    return [Error(_problem(names), id="portal.E001")] if names else []


def proxy_ssl_header(value: str) -> tuple[str, str] | None:
    """DJANGO_SECURE_PROXY_SSL_HEADER, "HTTP_X_FORWARDED_PROTO,https", as Django's (header, value) pair."""
    if not value.strip():
        return None
    parts = [part.strip() for part in value.split(",")]
    if len(parts) != 2 or not parts[0].startswith("HTTP_") or not parts[1]:
        raise ImproperlyConfigured(
            f"DJANGO_SECURE_PROXY_SSL_HEADER must be the header as Django names it and the value that means "
            f'HTTPS, e.g. "HTTP_X_FORWARDED_PROTO,https"; it is {value!r}.'
        )
    return parts[0], parts[1]
