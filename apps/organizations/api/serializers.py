from rest_framework import serializers

from apps.core.permissions import Role
from apps.organizations.models import (
    CollaborationAgreement,
    Department,
    LeadingGroup,
    LeadingGroupSeat,
    Membership,
    Region,
)


class RegionSerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)  # null: a province

    class Meta:
        model = Region
        fields = ["id", "code", "name", "level", "parent"]
        read_only_fields = fields


class DepartmentSerializer(serializers.ModelSerializer):
    region = RegionSerializer(read_only=True)

    class Meta:
        model = Department
        fields = ["id", "name", "type", "region", "contact_phone", "is_active"]
        read_only_fields = ["id", "type", "region", "is_active"]


class DepartmentUpdateSerializer(serializers.Serializer):
    """Only these fields are writable; anything else in the payload is ignored."""

    name = serializers.CharField(max_length=120, required=False)
    contact_phone = serializers.CharField(max_length=40, required=False, allow_blank=True)


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    display_name = serializers.CharField(source="user.display_name", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "department", "username", "display_name", "role", "created_at"]
        read_only_fields = fields


class AgreementSerializer(serializers.ModelSerializer):
    parties = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)

    class Meta:
        model = CollaborationAgreement
        fields = [
            "id",
            "title",
            "parties",
            "share_directory",
            "share_incidents",
            "share_tasks",
            "share_catalog",
            "valid_from",
            "valid_until",
            "status",
        ]
        read_only_fields = fields


class LeadingGroupSeatSerializer(serializers.ModelSerializer):
    department_name = serializers.CharField(source="department.name", read_only=True)

    class Meta:
        model = LeadingGroupSeat
        fields = ["department", "department_name", "role"]
        read_only_fields = fields


class LeadingGroupSerializer(serializers.ModelSerializer):
    regions = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    seats = LeadingGroupSeatSerializer(many=True, read_only=True)

    class Meta:
        model = LeadingGroup
        fields = ["id", "name", "kind", "convened_for", "regions", "seats", "is_active"]
        read_only_fields = fields


class MembershipCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)


class DepartmentGrantSerializer(serializers.Serializer):
    """The grantee is any active department by id: granting reveals nothing about the grantee."""

    grantee = serializers.PrimaryKeyRelatedField(queryset=Department.objects.filter(is_active=True))
