from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("reports", views.ReportViewSet, basename="report")
router.register("archives", views.ArchiveViewSet, basename="archive")
urlpatterns = [
    *router.urls,
    # /incidents/{id}/reports/ is the incident's situation reports (apps.incidents.api)
    path(
        "incidents/<int:pk>/report-requests/",
        views.IncidentReportingViewSet.as_view({"post": "report_request"}),
        name="incident-report-request",
    ),
    path(
        "incidents/<int:pk>/report-schedule/",
        views.IncidentReportingViewSet.as_view({"get": "schedule", "put": "schedule_set"}),
        name="incident-report-schedule",
    ),
]
