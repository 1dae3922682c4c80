from apps.core.api.views import ScopedReadOnlyViewSet
from apps.ledger.filters import AuditEventFilter
from apps.ledger.selectors import audit_event_list

from .serializers import AuditEventSerializer


class AuditEventViewSet(ScopedReadOnlyViewSet):
    list_selector = audit_event_list
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    lookup_field = "seq"
