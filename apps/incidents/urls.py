"""Portal routes for incidents and warnings. Included by apps.portal.urls under "incidents/"
without a namespace of its own, so every name is `portal:incident-…` / `portal:warning-…`."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.IncidentListView.as_view(), name="incident-list"),
    path("new/", views.IncidentCreateView.as_view(), name="incident-create"),
    path("<int:pk>/", views.IncidentDetailView.as_view(), name="incident-detail"),
    path("<int:pk>/verify/", views.IncidentVerifyView.as_view(), name="incident-verify"),
    path("<int:pk>/status/", views.IncidentStatusView.as_view(), name="incident-status"),
    path("<int:pk>/severity/", views.IncidentSeverityView.as_view(), name="incident-severity"),
    path("<int:pk>/leading-group/", views.IncidentLeadingGroupView.as_view(), name="incident-leading-group"),
    path("<int:pk>/close/", views.IncidentCloseView.as_view(), name="incident-close"),
    path("<int:pk>/reports/", views.SituationReportSubmitView.as_view(), name="incident-report-submit"),
    path("<int:pk>/photos/", views.IncidentPhotoAddView.as_view(), name="incident-photo-add"),
    path("<int:pk>/photos/<int:photo_pk>/", views.IncidentPhotoView.as_view(), name="incident-photo"),
    path("<int:pk>/timeline.csv", views.IncidentTimelineCsvView.as_view(), name="incident-timeline-csv"),
    path("warnings/", views.WarningListView.as_view(), name="warning-list"),
    path("warnings/new/", views.WarningCreateView.as_view(), name="warning-create"),
    path("warnings/<int:pk>/", views.WarningDetailView.as_view(), name="warning-detail"),
    path("warnings/<int:pk>/review/", views.WarningReviewView.as_view(), name="warning-review"),
    path("warnings/<int:pk>/publish/", views.WarningPublishView.as_view(), name="warning-publish"),
    path("warnings/<int:pk>/return/", views.WarningReturnView.as_view(), name="warning-return"),
    path("warnings/<int:pk>/withdraw/", views.WarningWithdrawView.as_view(), name="warning-withdraw"),
]
