"""Portal routes for notifications. Included by apps.portal.urls under "notifications/" without a
namespace of its own, so every name is `portal:notification-…`."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.NotificationListView.as_view(), name="notification-list"),
    path("<int:pk>/read/", views.NotificationReadView.as_view(), name="notification-read"),
    path("preferences/", views.NotificationPreferencesView.as_view(), name="notification-preferences"),
    path("webhooks/", views.WebhookEndpointListView.as_view(), name="notification-webhook-list"),
    path("webhooks/new/", views.WebhookEndpointCreateView.as_view(), name="notification-webhook-create"),
    path("webhooks/<int:pk>/", views.WebhookEndpointDetailView.as_view(), name="notification-webhook-detail"),
    path(
        "webhooks/<int:pk>/deactivate/",
        views.WebhookEndpointDeactivateView.as_view(),
        name="notification-webhook-deactivate",
    ),
]
