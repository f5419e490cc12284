"""The one gate for tenant pages: /o/<slug>/... -> request.organization and request.membership.

Every view under /o/<slug>/ is wrapped by `organization_view`; nothing else re-derives the
tenant. Anonymous visitors are sent to the organisation's sign-in page; a member of another
organisation, an unknown slug, or too low a role answers 404, so tenants cannot be discovered.
"""

from __future__ import annotations

import functools
import inspect
from urllib.parse import urlencode

from django.http import Http404, HttpResponseRedirect
from django.urls import reverse

from portal.organizations.access import (
    OrganizationAccess,
    OrganizationNotFound,
    aorganization_access_resolve,
    organization_access_resolve,
)
from portal.organizations.models import Role


def _sign_in_redirect(request, slug: str) -> HttpResponseRedirect:
    url = reverse("accounts:login", kwargs={"slug": slug})
    return HttpResponseRedirect(f"{url}?{urlencode({'next': request.get_full_path()})}")


def _attach(request, access: OrganizationAccess) -> None:
    request.organization = access.organization
    request.membership = access.membership


def organization_view(minimum_role: Role = Role.MEMBER):
    """Decorate a view taking `(request, slug, ...)`; works for sync and async views."""

    def decorate(view):
        if inspect.iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_wrapper(request, slug: str, *args, **kwargs):
                user = await request.auser()
                if not user.is_authenticated:
                    return _sign_in_redirect(request, slug)
                try:
                    access = await aorganization_access_resolve(slug=slug, user=user, minimum_role=minimum_role)
                except OrganizationNotFound:
                    raise Http404("No such organisation") from None
                _attach(request, access)
                return await view(request, slug, *args, **kwargs)

            return async_wrapper

        @functools.wraps(view)
        def wrapper(request, slug: str, *args, **kwargs):
            if not request.user.is_authenticated:
                return _sign_in_redirect(request, slug)
            try:
                access = organization_access_resolve(slug=slug, user=request.user, minimum_role=minimum_role)
            except OrganizationNotFound:
                raise Http404("No such organisation") from None
            _attach(request, access)
            return view(request, slug, *args, **kwargs)

        return wrapper

    return decorate
