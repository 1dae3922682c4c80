"""Portal routes of early warning (预警监测). Included by apps.portal.urls under "monitoring/"
without a namespace of its own, so every name is `portal:…`. Alert notifications link to
/monitoring/alerts/<pk>/ (portal:alert-detail): keep that path."""

from django.urls import path

from . import views

urlpatterns = [
    path("alerts/", views.AlertListView.as_view(), name="alert-list"),
    path("alerts/<int:pk>/", views.AlertDetailView.as_view(), name="alert-detail"),
    path("alerts/<int:pk>/handle/", views.AlertHandleView.as_view(), name="alert-handle"),
    path("rules/", views.MonitoringRuleListView.as_view(), name="monitoring-rule-list"),
    path("rules/new/", views.MonitoringRuleCreateView.as_view(), name="monitoring-rule-create"),
    path("rules/<int:pk>/", views.MonitoringRuleDetailView.as_view(), name="monitoring-rule-detail"),
    path("rules/<int:pk>/activate/", views.MonitoringRuleActivateView.as_view(), name="monitoring-rule-activate"),
    path("rules/<int:pk>/deactivate/", views.MonitoringRuleDeactivateView.as_view(), name="monitoring-rule-deactivate"),
]
