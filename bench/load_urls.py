"""The platform's URLs plus the bench's bare endpoint (bench/load_settings.py only)."""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpResponse
from django.urls import path
from django.views import View

from config.urls import urlpatterns as platform_urlpatterns


class BareView(LoginRequiredMixin, View):
    """A constant behind the same middleware and the same login as every portal page: what the
    stack costs (session, user, middleware, gunicorn) before a page does any work of its own."""

    def get(self, request, *args, **kwargs):
        return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [path("bench/bare/", BareView.as_view(), name="bench-bare"), *platform_urlpatterns]
