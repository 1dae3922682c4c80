from django.db.models import QuerySet

from .models import IntegrationKey


def integration_key_list(*, user) -> QuerySet[IntegrationKey]:
    return IntegrationKey.objects.restrict(user, "view").select_related("department", "created_by")
