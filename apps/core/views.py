"""Portal base classes. Lists and details read through a selector built on `restrict`."""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404
from django.shortcuts import redirect
from django.views.generic import DetailView
from django_filters.views import FilterView

from .db import replica_reads_for
from .exceptions import AccessDenied, ServiceError

POST_ONLY = ["post", "options"]  # action routes: a GET is a 405
INVALID = 400  # a form rendered again with its errors


def attach_error(form, exc: ServiceError) -> int:
    """Put the service's message on the field it names; returns the status to answer with."""
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)
    return exc.status


def hidden_lookup(request, model, field: str, value) -> None:
    """An id the user cannot see: if it exists elsewhere, that is a probe; record it. Always 404."""
    if value is None:
        return
    try:
        target = model._default_manager.filter(**{field: value}).first()
    except (ValueError, TypeError):
        return
    if target is not None:
        from .denials import denial_record

        denial_record(user=request.user, exc=AccessDenied(action="view", target=target, hidden=True))


class ScopedViewMixin(LoginRequiredMixin):
    list_selector = None  # callable(*, user) -> restricted queryset

    def get_queryset(self):
        return type(self).list_selector(user=self.request.user)


class ScopedListView(ScopedViewMixin, FilterView):
    """A list page. Its reads may go to the read replica (decision 0014): the page is rendered inside
    the scope, because the querysets are evaluated by the template."""

    paginate_by = 50

    def dispatch(self, request, *args, **kwargs):
        with replica_reads_for(request):
            response = super().dispatch(request, *args, **kwargs)
            if callable(getattr(response, "render", None)) and not response.is_rendered:
                response.render()
        return response


class ScopedDetailView(ScopedViewMixin, DetailView):
    def get_object(self, queryset=None):
        try:
            return super().get_object(queryset)
        except Http404:
            hidden_lookup(self.request, self.get_queryset().model, "pk", self.kwargs.get(self.pk_url_kwarg))
            raise


class ObjectActionMixin:
    """A POST on one object seen through a detail view: check the permission first (403/404),
    read the form if the action has one, call `perform` (one service), then PRG with a message.
    A refused form renders the detail page again with its errors; a button without fields
    redirects back with the service's message."""

    http_method_names = POST_ONLY
    success_message = ""

    def check(self) -> None:  # pragma: no cover - every base defines it
        raise NotImplementedError

    def make_form(self):
        """The bound form of this action, or None for a button."""
        return None

    def invalid(self, form, status: int):  # pragma: no cover - every base defines it
        raise NotImplementedError

    def perform(self, form) -> None:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def done_url(self):  # pragma: no cover - every base defines it
        raise NotImplementedError

    def post(self, request, *args, **kwargs):
        self.object = self.get_object()
        self.check()
        form = self.make_form()
        if form is not None and not form.is_valid():
            return self.invalid(form, INVALID)
        try:
            self.perform(form)
        except ServiceError as exc:
            if form is None:
                messages.error(request, exc.message)
                return redirect(self.detail_url())
            return self.invalid(form, attach_error(form, exc))
        messages.success(request, self.success_message)
        return redirect(self.done_url())

    def detail_url(self):  # pragma: no cover - every base defines it
        raise NotImplementedError
