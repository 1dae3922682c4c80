from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

api_v1 = [
    path("", include("apps.accounts.api.urls")),
    path("", include("apps.organizations.api.urls")),
    path("", include("apps.ledger.api.urls")),
    path("", include("apps.incidents.api.urls")),
    path("", include("apps.notifications.api.urls")),
    path("", include("apps.tasking.api.urls")),
    path("", include("apps.datapool.api.urls")),
    path("", include("apps.access.api.urls")),
    path("", include("apps.monitoring.api.urls")),
    path("", include("apps.reporting.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # the split view serves its script as a file: no inline <script> under the Content-Security-Policy
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
]

# a URL under /api/ that matches no route answers in the API's error format
handler404 = "apps.core.api.errors.page_not_found"
# an unhandled exception: the API's error format under /api/, the portal's offline 500 page elsewhere
handler500 = "apps.core.api.errors.server_error"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include((api_v1, "api"))),
    path("", include("apps.portal.urls")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
