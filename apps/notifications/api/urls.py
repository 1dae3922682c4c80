from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
# The longer prefixes first: "notifications/<pk>" must not swallow them (ids are digits anyway).
router.register(
    "notifications/webhook-endpoints", views.WebhookEndpointViewSet, basename="notification-webhook-endpoint"
)
router.register("notifications/preferences", views.NotificationPreferenceViewSet, basename="notification-preference")
router.register("notifications", views.NotificationViewSet, basename="notification")
urlpatterns = router.urls
