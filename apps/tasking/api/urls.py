from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("tasks", views.TaskViewSet, basename="task")
urlpatterns = [
    *router.urls,
    path("scorecard/", views.ScorecardViewSet.as_view({"get": "summary"}), name="scorecard"),
    path("scorecard.csv", views.ScorecardViewSet.as_view({"get": "csv"}), name="scorecard-csv"),
]
