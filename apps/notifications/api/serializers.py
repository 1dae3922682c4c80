"""Notification API serializers. Output serializers are read-only renderings; input serializers
list only what a caller may send (the services set everything else)."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from apps.notifications.models import Notification, NotificationPreference, WebhookDelivery, WebhookEndpoint


class NotificationSerializer(serializers.ModelSerializer):
    department_name = serializers.CharField(source="department.name", read_only=True)
    read_by = serializers.CharField(source="read_by.username", read_only=True, allow_null=True, default=None)

    class Meta:
        model = Notification
        fields = [
            "id",
            "kind",
            "department",
            "department_name",
            "audience_role",
            "title",
            "body",
            "link",
            "target_type",
            "target_id",
            "created_at",
            "read_at",
            "read_by",
        ]
        read_only_fields = fields


class PreferenceSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(max_length=60, allow_blank=True, required=False, default="")
    in_app = serializers.BooleanField(required=False, default=True)
    email = serializers.BooleanField(required=False, default=True)
    daily_digest = serializers.BooleanField(required=False, default=False)

    class Meta:
        model = NotificationPreference
        fields = ["kind", "in_app", "email", "daily_digest", "updated_at"]
        read_only_fields = ["updated_at"]
        validators = []  # the service upserts by (user, kind); no uniqueness error for an update


class WebhookEndpointSerializer(serializers.ModelSerializer):
    department_name = serializers.CharField(source="department.name", read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True)

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "department",
            "department_name",
            "name",
            "url",
            "kinds",
            "is_active",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class WebhookEndpointIssuedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        read_only=True, help_text=_("The HMAC-SHA256 signing secret; keep it in the receiving system.")
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookEndpointCreateSerializer(serializers.Serializer):
    department = serializers.IntegerField(min_value=1)
    name = serializers.CharField(max_length=100)
    url = serializers.CharField(max_length=500, help_text=_("http:// or https://"))
    kinds = serializers.ListField(
        child=serializers.CharField(max_length=60),
        required=False,
        default=list,
        max_length=100,
        help_text=_("Kinds to send, e.g. task.issued or clock.*; empty: every kind."),
    )


class WebhookEndpointUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    url = serializers.CharField(max_length=500, required=False)
    kinds = serializers.ListField(child=serializers.CharField(max_length=60), required=False, max_length=100)
    is_active = serializers.BooleanField(required=False)


class WebhookDeliverySerializer(serializers.ModelSerializer):
    notification_title = serializers.CharField(source="notification.title", read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "endpoint",
            "notification",
            "notification_title",
            "attempt",
            "status_code",
            "error",
            "sent_at",
            "duration_ms",
            "succeeded",
        ]
        read_only_fields = fields
