from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from apps.accounts.models import IntegrationKey, User
from apps.organizations.models import Membership


class SeatSerializer(serializers.ModelSerializer):
    department_name = serializers.CharField(source="department.name", read_only=True)
    region_code = serializers.CharField(source="department.region.code", read_only=True)

    class Meta:
        model = Membership
        fields = ["department", "department_name", "region_code", "role"]
        read_only_fields = fields


class MeSerializer(serializers.ModelSerializer):
    memberships = SeatSerializer(many=True, read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "display_name", "is_superuser", "memberships"]
        read_only_fields = fields


class IntegrationKeySerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", read_only=True)

    class Meta:
        model = IntegrationKey
        fields = ["id", "name", "prefix", "department", "created_by", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = fields


class IntegrationKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    department = serializers.IntegerField(min_value=1)


class IntegrationKeyIssuedSerializer(IntegrationKeySerializer):
    secret = serializers.CharField(read_only=True, help_text=_("Shown once; only its hash is stored."))

    class Meta(IntegrationKeySerializer.Meta):
        fields = [*IntegrationKeySerializer.Meta.fields, "secret"]
        read_only_fields = fields
