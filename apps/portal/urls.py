from django.urls import include, path

from . import views

app_name = "portal"
urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("dashboard/live/", views.DashboardLiveView.as_view(), name="dashboard-live"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("regions/", views.RegionListView.as_view(), name="region-list"),
    path("departments/", views.DepartmentListView.as_view(), name="department-list"),
    path("departments/<int:pk>/", views.DepartmentDetailView.as_view(), name="department-detail"),
    path("agreements/", views.AgreementListView.as_view(), name="agreement-list"),
    path("leading-groups/", views.LeadingGroupListView.as_view(), name="leading-group-list"),
    path("ledger/", views.LedgerListView.as_view(), name="ledger-list"),
    # the caller's own account security: portal:account-security, portal:otp-enrol, portal:otp-verify, …
    path("account/", include("apps.accounts.urls")),
    # incident and warning pages: names in this namespace (portal:incident-list, portal:warning-list, …)
    path("incidents/", include("apps.incidents.urls")),
    path("notifications/", include("apps.notifications.urls")),
    # task pages: portal:task-inbox, portal:task-detail, …, portal:scorecard (notifications link /tasks/<pk>/)
    path("tasks/", include("apps.tasking.urls")),
    # data pool pages: portal:dataset-list, portal:dataset-detail, portal:ingestion-detail, …
    path("data/", include("apps.datapool.urls")),
    # data access pages: portal:data-request-detail, portal:data-grant-detail, portal:data-demand-list, …
    path("access/", include("apps.access.urls")),
    # early warning: portal:monitoring-rule-list, portal:alert-detail, … (notifications link /monitoring/alerts/<pk>/)
    path("monitoring/", include("apps.monitoring.urls")),
    # reports and archives: portal:report-detail, portal:archive-detail, … (notifications link /reports/<pk>/)
    path("reports/", include("apps.reporting.urls")),
]
