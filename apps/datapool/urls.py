"""Portal routes of the data pool. Included by apps.portal.urls under "data/" without a namespace
of its own, so every name is `portal:dataset-…`, `portal:ingestion-…`, `portal:asset-…`,
`portal:standard-…`. Notifications link to portal:ingestion-detail (/data/jobs/<pk>/)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.DatasetListView.as_view(), name="dataset-list"),
    path("new/", views.DatasetCreateView.as_view(), name="dataset-create"),
    path("<int:pk>/", views.DatasetDetailView.as_view(), name="dataset-detail"),
    path("<int:pk>/edit/", views.DatasetUpdateView.as_view(), name="dataset-update"),
    path("<int:pk>/records/", views.DatasetRecordsView.as_view(), name="dataset-records"),
    path("<int:pk>/upload/", views.DatasetUploadView.as_view(), name="dataset-upload"),
    path("<int:pk>/duplicates/", views.DatasetDuplicatesView.as_view(), name="dataset-duplicates"),
    path("<int:pk>/diff/", views.DatasetDiffView.as_view(), name="dataset-diff"),
    path("fused/", views.FusedView.as_view(), name="fused-view"),
    path("<int:pk>/share/", views.DatasetShareView.as_view(), name="dataset-share"),
    path("<int:pk>/sync/", views.SyncSourceListView.as_view(), name="syncsource-list"),
    path("sync/<int:pk>/run/", views.SyncSourceRunView.as_view(), name="syncsource-run"),
    path("sync/<int:pk>/toggle/", views.SyncSourceToggleView.as_view(), name="syncsource-toggle"),
    path("jobs/", views.IngestionListView.as_view(), name="ingestion-list"),
    path("jobs/<int:pk>/", views.IngestionDetailView.as_view(), name="ingestion-detail"),
    path("jobs/<int:pk>/progress/", views.IngestionProgressView.as_view(), name="ingestion-progress"),
    path("jobs/<int:pk>/rejects.csv", views.IngestionRejectsCsvView.as_view(), name="ingestion-rejects-csv"),
    path("assets/", views.AssetRegisterView.as_view(), name="asset-register"),
    path("assets/<int:pk>/", views.AssetDetailView.as_view(), name="asset-detail"),
    path("standards/", views.StandardListView.as_view(), name="standard-list"),
    path("standards/<int:pk>/", views.StandardDetailView.as_view(), name="standard-detail"),
]
