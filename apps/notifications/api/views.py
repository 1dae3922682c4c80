"""Notification API: the inbox and marking read, the caller's preferences, and the department's
webhook endpoints with their delivery attempts (heads). Parse, call one selector or service, render.
"""

from __future__ import annotations

from django.http import Http404
from django_filters.utils import translate_validation
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.core.api.filters import strict_booleans
from apps.core.api.views import ScopedViewSet, ScopedViewSetMixin
from apps.core.views import hidden_lookup
from apps.notifications import selectors, services
from apps.notifications.filters import NotificationFilter, WebhookDeliveryFilter, WebhookEndpointFilter
from apps.organizations.models import Department
from apps.organizations.selectors import department_get

from .serializers import (
    NotificationSerializer,
    PreferenceSerializer,
    WebhookDeliverySerializer,
    WebhookEndpointCreateSerializer,
    WebhookEndpointIssuedSerializer,
    WebhookEndpointSerializer,
    WebhookEndpointUpdateSerializer,
)


class NotificationViewSet(ScopedViewSet):
    """The caller's departments' notifications, unread first. The list leaves out the kinds the
    caller switched off for the inbox (as the portal does); one notification by id is always there."""

    list_selector = selectors.notification_list
    serializer_class = NotificationSerializer
    filterset_class = NotificationFilter
    lookup_value_regex = r"\d+"

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(selectors.notification_inbox(user=request.user))
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(request=None, responses=NotificationSerializer)
    @action(detail=True, methods=["post"], filter_backends=[])
    def read(self, request, pk=None):
        notification = services.notification_mark_read(actor=request.user, notification=self.get_object())
        return Response(
            NotificationSerializer(selectors.notification_list(user=request.user).get(pk=notification.pk)).data
        )


class NotificationPreferenceViewSet(ScopedViewSetMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The caller's own preferences: one row per kind (blank kind: every kind without its own row)."""

    list_selector = selectors.preference_list
    serializer_class = PreferenceSerializer
    pagination_class = None
    filter_backends = []

    @extend_schema(request=PreferenceSerializer, responses={200: PreferenceSerializer})  # 200: created or replaced
    def create(self, request):
        """Set the preference for one kind (created or replaced)."""
        payload = PreferenceSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        [row] = services.notification_preferences_set(
            actor=request.user, preferences=[services.PreferenceInput(**payload.validated_data)]
        )
        return Response(PreferenceSerializer(row).data, status=status.HTTP_200_OK)


class WebhookEndpointViewSet(ScopedViewSet):
    """A department's webhook endpoints (heads of the department)."""

    list_selector = selectors.webhook_endpoint_list
    serializer_class = WebhookEndpointSerializer
    filterset_class = WebhookEndpointFilter
    lookup_value_regex = r"\d+"

    @extend_schema(request=WebhookEndpointCreateSerializer, responses={201: WebhookEndpointIssuedSerializer})
    def create(self, request):
        """Register an endpoint; the answer holds its signing secret."""
        payload = WebhookEndpointCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        try:
            department = department_get(user=request.user, pk=data["department"])
        except Department.DoesNotExist:
            hidden_lookup(request, Department, "pk", data["department"])
            raise Http404 from None
        endpoint = services.webhook_endpoint_create(
            actor=request.user, department=department, name=data["name"], url=data["url"], kinds=data["kinds"]
        )
        return Response(WebhookEndpointIssuedSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=WebhookEndpointUpdateSerializer, responses=WebhookEndpointSerializer)
    def partial_update(self, request, pk=None):
        """Change the name, URL or kinds, or (de)activate. Endpoints are never deleted."""
        endpoint = self.get_object()
        payload = WebhookEndpointUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        endpoint = services.webhook_endpoint_update(actor=request.user, endpoint=endpoint, **payload.validated_data)
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(
        responses=WebhookDeliverySerializer(many=True),
        parameters=[
            OpenApiParameter("succeeded", bool, description="Only successful (or only failed) attempts."),
            OpenApiParameter("notification", int, description="Attempts for one notification."),
        ],
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def deliveries(self, request, pk=None):
        """Every delivery attempt to this endpoint, newest first."""
        endpoint = self.get_object()
        queryset = selectors.webhook_delivery_list(user=request.user).filter(endpoint=endpoint)
        filterset = strict_booleans(WebhookDeliveryFilter(request.query_params, queryset=queryset, request=request))
        if not filterset.is_valid():
            raise translate_validation(filterset.errors)
        page = self.paginate_queryset(filterset.qs)
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)
