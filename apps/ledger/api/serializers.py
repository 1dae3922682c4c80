from rest_framework import serializers

from apps.ledger.models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "seq",
            "created_at",
            "actor_name",
            "region_path",
            "action",
            "target_type",
            "target_id",
            "target_repr",
            "before",
            "after",
            "request_id",
            "prev_hash",
            "hash",
        ]
        read_only_fields = fields
