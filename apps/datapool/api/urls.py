from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("standards", views.StandardViewSet, basename="data-standard")
router.register("tags", views.TagViewSet, basename="data-tag")
router.register("datasets", views.DatasetViewSet, basename="dataset")
router.register("jobs", views.IngestionJobViewSet, basename="ingestion-job")
router.register("assets", views.AssetViewSet, basename="asset")
router.register("sync-sources", views.SyncSourceViewSet, basename="sync-source")
urlpatterns = [
    *router.urls,
    path("fused/", views.FusedViewSet.as_view({"get": "list"}), name="fused"),
]
