from django.contrib.auth import get_user_model
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import selectors, services
from apps.core.api.views import ScopedReadOnlyViewSet
from apps.core.views import hidden_lookup
from apps.organizations.models import Department
from apps.organizations.selectors import department_get

from .serializers import (
    IntegrationKeyCreateSerializer,
    IntegrationKeyIssuedSerializer,
    IntegrationKeySerializer,
    MeSerializer,
)


class MeApi(APIView):
    """The caller and their seats. Scope-free by construction: it only ever shows the caller."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        user = get_user_model().objects.prefetch_related("memberships__department__region").get(pk=request.user.pk)
        return Response(MeSerializer(user).data)


class IntegrationKeyViewSet(ScopedReadOnlyViewSet):
    list_selector = selectors.integration_key_list
    serializer_class = IntegrationKeySerializer

    @extend_schema(request=IntegrationKeyCreateSerializer, responses={201: IntegrationKeyIssuedSerializer})
    def create(self, request):
        payload = IntegrationKeyCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            department = department_get(user=request.user, pk=payload.validated_data["department"])
        except Department.DoesNotExist:
            hidden_lookup(request, Department, "pk", payload.validated_data["department"])
            raise Http404 from None
        key, secret = services.integration_key_create(
            actor=request.user, department=department, name=payload.validated_data["name"]
        )
        data = IntegrationKeySerializer(key).data | {"secret": secret}
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=IntegrationKeyIssuedSerializer)
    @action(detail=True, methods=["post"])
    def rotate(self, request, pk=None):
        """A new secret for the key (shown once); the old one stops working at once."""
        key, secret = services.integration_key_rotate(actor=request.user, key=self.get_object())
        return Response(IntegrationKeySerializer(key).data | {"secret": secret})

    @extend_schema(request=None, responses=IntegrationKeySerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        key = services.integration_key_revoke(actor=request.user, key=self.get_object())
        return Response(IntegrationKeySerializer(key).data)
