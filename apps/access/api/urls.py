"""API routes of on-demand data access (按需取用), under /api/v1/.

Records read through a grant hang off the dataset (`datasets/{id}/granted-records/`), like the
portal's records page: the caller names the dataset, and the grant valid for their department
at this moment is found by the selector (the owner department reads whole records).
"""

from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.core.api.views import JsonErrorsNegotiation

from . import views

router = SimpleRouter()
router.register("data-requests", views.DataRequestViewSet, basename="data-request")
router.register("data-grants", views.DataGrantViewSet, basename="data-grant")
router.register("data-demands", views.DataDemandViewSet, basename="data-demand")
router.register("subscriptions", views.SubscriptionViewSet, basename="subscription")

urlpatterns = [
    *router.urls,
    path(
        "datasets/<int:pk>/granted-records/",
        views.GrantedRecordViewSet.as_view({"get": "records"}),
        name="dataset-granted-records",
    ),
    path(
        "datasets/<int:pk>/granted-records.csv",
        # a download answers text/csv itself; whatever the Accept header, its errors stay JSON
        views.GrantedRecordViewSet.as_view({"get": "export"}, content_negotiation_class=JsonErrorsNegotiation),
        name="dataset-granted-records-csv",
    ),
]
