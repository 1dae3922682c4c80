"""Portal routes of on-demand data access (按需取用). Included by apps.portal.urls under "access/"
without a namespace of its own, so every name is `portal:data-…`. The services link to
portal:data-request-detail, portal:data-grant-detail and portal:data-demand-list."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.DataRequestListView.as_view(), name="data-request-list"),
    path("requests/new/", views.DataRequestCreateView.as_view(), name="data-request-create"),
    path("requests/<int:pk>/", views.DataRequestDetailView.as_view(), name="data-request-detail"),
    path("requests/<int:pk>/approve/", views.DataRequestApproveView.as_view(), name="data-request-approve"),
    path("requests/<int:pk>/reject/", views.DataRequestRejectView.as_view(), name="data-request-reject"),
    path("requests/<int:pk>/withdraw/", views.DataRequestWithdrawView.as_view(), name="data-request-withdraw"),
    path("approvals/", views.ApprovalQueueView.as_view(), name="data-approval-queue"),
    path("grants/", views.DataGrantListView.as_view(), name="data-grant-list"),
    path("grants/issued/", views.IssuedGrantListView.as_view(), name="data-grant-issued"),
    path("grants/<int:pk>/", views.DataGrantDetailView.as_view(), name="data-grant-detail"),
    path("grants/<int:pk>/revoke/", views.DataGrantRevokeView.as_view(), name="data-grant-revoke"),
    path("grants/<int:pk>/review/", views.DataGrantReviewView.as_view(), name="data-grant-review"),
    path("datasets/<int:pk>/records/", views.GrantedRecordsView.as_view(), name="data-records"),
    path("datasets/<int:pk>/records.csv", views.GrantedRecordsCsvView.as_view(), name="data-records-csv"),
    path("emergency/", views.EmergencyAccessCreateView.as_view(), name="data-emergency-create"),
    path("emergency/reviews/", views.EmergencyReviewListView.as_view(), name="data-emergency-reviews"),
    path("demands/", views.DemandListView.as_view(), name="data-demand-list"),
    path("demands/new/", views.DemandCreateView.as_view(), name="data-demand-create"),
    path("demands/<int:pk>/close/", views.DemandCloseView.as_view(), name="data-demand-close"),
    path("subscriptions/", views.SubscriptionListView.as_view(), name="data-subscription-list"),
    path("subscriptions/new/", views.SubscribeView.as_view(), name="data-subscribe"),
    path("subscriptions/<int:pk>/delete/", views.UnsubscribeView.as_view(), name="data-unsubscribe"),
]
