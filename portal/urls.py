from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path

from portal.dashboard.views import home


def healthz(request):
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz/", healthz, name="healthz"),
    path("", include("portal.accounts.urls")),
    path("auth/", include("portal.accounts.social_urls")),
    path("", home, name="home"),
    path("", include("portal.dashboard.urls")),
    path("", include("portal.live.urls")),
    path("", include("portal.exports.urls")),
    path("", include("portal.tenant_admin.urls")),
]
