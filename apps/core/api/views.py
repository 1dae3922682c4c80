"""API base classes. Every tenant-owned endpoint derives from these; the meta-test enforces it."""

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter
from rest_framework import mixins, viewsets
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import IsAuthenticated

from apps.core.db import replica_reads_for
from apps.core.views import hidden_lookup


class ScopedViewSetMixin:
    """`get_queryset` comes only from `list_selector(user=...)`, a selector built on `restrict`.

    A lookup outside the scope is a 404 and, when the object exists, a recorded denial.
    """

    permission_classes = [IsAuthenticated]
    list_selector = None  # callable(*, user) -> restricted queryset

    def get_queryset(self):
        return type(self).list_selector(user=self.request.user)

    def dispatch(self, request, *args, **kwargs):
        """The `list` action may read from the replica (decision 0014); authentication stays on the
        primary (`apps.core.db.PRIMARY_ONLY_APPS`), and so does every other action."""
        if getattr(self, "action_map", {}).get(request.method.lower()) != "list":
            return super().dispatch(request, *args, **kwargs)
        with replica_reads_for(request):
            return super().dispatch(request, *args, **kwargs)

    def get_object(self):
        try:
            return super().get_object()
        except Http404:
            kwarg = self.lookup_url_kwarg or self.lookup_field
            hidden_lookup(self.request, self.get_queryset().model, self.lookup_field, self.kwargs.get(kwarg))
            raise


class ScopedReadOnlyViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    pass


class ScopedViewSet(ScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Read routes plus actions; writes are @action methods that call one service each."""


IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="Resending a request with the same key (per department) returns the first result instead of "
    "creating a second one; for reports it overrides `idempotency_key` in the body.",
)


class JsonErrorsNegotiation(DefaultContentNegotiation):
    """A download answers text/csv itself; whatever the Accept header, its errors stay JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
