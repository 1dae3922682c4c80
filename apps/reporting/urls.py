"""Portal routes of reporting. Included by apps.portal.urls under "reports/" without a namespace
of its own, so every name is `portal:report-…` / `portal:archive-…`. Report notifications link
/reports/<pk>/ (portal:report-detail)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.ReportListView.as_view(), name="report-list"),
    path("request/<int:incident_pk>/", views.ReportRequestView.as_view(), name="report-request"),
    path("schedule/<int:incident_pk>/", views.ReportScheduleView.as_view(), name="report-schedule"),
    path("archives/", views.ArchiveListView.as_view(), name="archive-list"),
    path("archives/<int:pk>/", views.ArchiveDetailView.as_view(), name="archive-detail"),
    path("archives/<int:pk>/download/", views.ArchiveDownloadView.as_view(), name="archive-download"),
    path("<int:pk>/", views.ReportDetailView.as_view(), name="report-detail"),
    path("<int:pk>/progress/", views.ReportProgressView.as_view(), name="report-progress"),
    # after progress/: a format is any other word (pdf, xlsx, csv; the rest 404)
    path("<int:pk>/<str:fmt>/", views.ReportDownloadView.as_view(), name="report-download"),
]
