from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.core.api.views import ScopedReadOnlyViewSet, ScopedViewSetMixin
from apps.organizations import selectors, services
from apps.organizations.filters import (
    AgreementFilter,
    DepartmentFilter,
    LeadingGroupFilter,
    MembershipFilter,
    RegionFilter,
)

from .serializers import (
    AgreementSerializer,
    DepartmentGrantSerializer,
    DepartmentSerializer,
    DepartmentUpdateSerializer,
    LeadingGroupSerializer,
    MembershipCreateSerializer,
    MembershipSerializer,
    RegionSerializer,
)


class RegionViewSet(ScopedReadOnlyViewSet):
    list_selector = selectors.region_list
    serializer_class = RegionSerializer
    filterset_class = RegionFilter


class DepartmentViewSet(ScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    list_selector = selectors.department_list
    serializer_class = DepartmentSerializer
    filterset_class = DepartmentFilter

    @extend_schema(request=DepartmentUpdateSerializer, responses=DepartmentSerializer)
    def partial_update(self, request, *args, **kwargs):
        department = self.get_object()
        payload = DepartmentUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        department = services.department_update(actor=request.user, department=department, data=payload.validated_data)
        return Response(DepartmentSerializer(department).data)

    @extend_schema(request=MembershipCreateSerializer, responses={201: MembershipSerializer})
    @action(detail=True, methods=["post"])
    def members(self, request, pk=None):
        department = self.get_object()
        payload = MembershipCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        user = get_user_model().objects.filter(username=payload.validated_data["username"], is_active=True).first()
        if user is None:
            from django.utils.translation import gettext as _

            from apps.core.exceptions import ServiceError

            raise ServiceError(_("No active user with this username."), field="username")
        membership = services.membership_add(
            actor=request.user, department=department, user=user, role=payload.validated_data["role"]
        )
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=DepartmentGrantSerializer, responses={201: None, 204: None})
    @action(detail=True, methods=["post", "delete"])
    def grants(self, request, pk=None):
        department = self.get_object()
        payload = DepartmentGrantSerializer(data=request.data, context={"request": request})
        payload.is_valid(raise_exception=True)
        grantee = payload.validated_data["grantee"]
        if request.method == "DELETE":
            services.department_grant_revoke(actor=request.user, department=department, grantee=grantee)
            return Response(status=status.HTTP_204_NO_CONTENT)
        services.department_grant(actor=request.user, department=department, grantee=grantee)
        return Response(status=status.HTTP_201_CREATED)


class MembershipViewSet(ScopedReadOnlyViewSet, mixins.DestroyModelMixin):
    list_selector = selectors.membership_list
    serializer_class = MembershipSerializer
    filterset_class = MembershipFilter

    def perform_destroy(self, instance):
        services.membership_remove(actor=self.request.user, membership=instance)


class AgreementViewSet(ScopedReadOnlyViewSet):
    list_selector = selectors.agreement_list
    serializer_class = AgreementSerializer
    filterset_class = AgreementFilter


class LeadingGroupViewSet(ScopedReadOnlyViewSet):
    list_selector = selectors.leading_group_list
    serializer_class = LeadingGroupSerializer
    filterset_class = LeadingGroupFilter
