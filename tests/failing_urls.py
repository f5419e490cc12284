"""The portal's URLs plus one view that fails, to see the 500 page a real failure gets (tests only)."""

from django.urls import path

from portal.urls import handler500  # noqa: F401 - Django reads handler500 here
from portal.urls import urlpatterns as portal_urlpatterns


def boom(request):
    raise RuntimeError("a bug in a view")


urlpatterns = [path("boom/", boom), *portal_urlpatterns]
