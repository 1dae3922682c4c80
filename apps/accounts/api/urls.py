from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("integration-keys", views.IntegrationKeyViewSet, basename="integration-key")
urlpatterns = [path("me/", views.MeApi.as_view(), name="me"), *router.urls]
