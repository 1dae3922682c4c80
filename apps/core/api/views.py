"""API base classes. Every tenant-owned endpoint derives from these; the meta-test enforces it."""

from django.http import Http404
from rest_framework import mixins, viewsets
from rest_framework.permissions import IsAuthenticated

from apps.core.views import hidden_lookup


class ScopedViewSetMixin:
    """`get_queryset` comes only from `list_selector(user=...)`, a selector built on `restrict`.

    A lookup outside the scope is a 404 and, when the object exists, a recorded denial.
    """

    permission_classes = [IsAuthenticated]
    list_selector = None  # callable(*, user) -> restricted queryset

    def get_queryset(self):
        return type(self).list_selector(user=self.request.user)

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
