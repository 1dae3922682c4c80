"""API routes of early warning (预警监测), under /api/v1/: api:monitoring-rule-list, …-detail,
…-activate, …-deactivate, …-evaluations; api:alert-list, …-detail, …-acknowledge, …-close."""

from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("monitoring-rules", views.MonitoringRuleViewSet, basename="monitoring-rule")
router.register("alerts", views.AlertViewSet, basename="alert")

urlpatterns = router.urls
