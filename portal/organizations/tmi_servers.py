"""Which TMI servers tenants may use: the operator's PORTAL_TMI_ALLOWED_SERVERS (settings.py).

An owner types a TMI address; the portal then calls it from the inside of the operator's network. So
the address is checked where it is typed (the tenant admin's TMI form, the Django admin) and again
where it is used (every TMI client and the live socket, through `tmi_address_guard()`), because DNS
may answer differently between saving and using. A refused address is refused before any connection
is opened, and every place says the same words, never what (if anything) listens there.

The rule (portal/tmi/addresses.py): by default ("public") any public address; loopback, private,
link-local and shared ranges only when listed; metadata services, 0.0.0.0, multicast and broadcast
never. Without "public" in the list, only the listed servers.
"""

from __future__ import annotations

import functools

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.utils.translation import gettext_lazy as _

from portal.tmi.addresses import AddressGuard
from portal.tmi.errors import AddressNotAllowed

NOT_ALLOWED_MESSAGE = _("This address is not allowed here.")


def tmi_address_guard() -> AddressGuard:
    """The guard for the current setting (read each time, so tests and reconfiguration apply at once)."""
    return _guard_for(tuple(settings.PORTAL_TMI_ALLOWED_SERVERS))


@functools.lru_cache(maxsize=8)
def _guard_for(entries: tuple[str, ...]) -> AddressGuard:
    try:
        return AddressGuard(entries)
    except ValueError as error:
        raise ImproperlyConfigured(f"PORTAL_TMI_ALLOWED_SERVERS: {error}") from None


def tmi_address_validate(url: str) -> None:
    """For forms: ValidationError when the guard refuses the address now. A name that does not
    resolve at the moment is not refused here (the check when it is used still applies)."""
    guard = tmi_address_guard()
    try:
        _, host, port = guard.target(url)
        guard.resolve(host, port)
    except AddressNotAllowed:
        raise ValidationError(NOT_ALLOWED_MESSAGE, code="tmi_address_not_allowed") from None
    except OSError:
        pass
