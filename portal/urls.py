from django.contrib import admin
from django.http import HttpResponseServerError, JsonResponse
from django.shortcuts import redirect
from django.template import loader
from django.templatetags.static import static
from django.urls import include, path

from portal.dashboard.views import home


def healthz(request):
    return JsonResponse({"status": "ok"})


def favicon(request):
    """/favicon.ico, which browsers ask for on their own (pages that name no icon, like the 500 page, included)."""
    return redirect(static("portal/favicon.ico"))


def server_error(request):
    """Django's 500 view, plus the request's CSP nonce for the page's one inline <style>. The page stays
    self-contained (no static files, no database, no context processors): they may be what failed."""
    try:
        template = loader.get_template("500.html")
    except Exception:  # noqa: BLE001 - as Django's own: a missing template must not hide the error page
        return HttpResponseServerError("<h1>Server Error (500)</h1>", content_type="text/html")
    return HttpResponseServerError(template.render({"csp_nonce": getattr(request, "csp_nonce", "")}))


handler500 = server_error

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz/", healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
    path("", include("portal.accounts.urls")),
    path("auth/", include("portal.accounts.social_urls")),
    path("", home, name="home"),
    path("", include("portal.dashboard.urls")),
    path("", include("portal.live.urls")),
    path("", include("portal.exports.urls")),
    path("", include("portal.tenant_admin.urls")),
]
