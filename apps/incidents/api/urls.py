from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("incidents", views.IncidentViewSet, basename="incident")
router.register("situation-reports", views.SituationReportViewSet, basename="situation-report")
router.register("warnings", views.WarningViewSet, basename="warning")
router.register("response-plans", views.ResponsePlanViewSet, basename="response-plan")
urlpatterns = router.urls
