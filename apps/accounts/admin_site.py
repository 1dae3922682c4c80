"""The admin console's site: only for staff whose session is verified with a second factor
(decision 0012). Staff who are logged in but not verified are sent to the portal's verify page,
which sends people without an authenticator on to enrol one; then back to the console."""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .selectors import user_is_verified


class VerifiedAdminSite(admin.AdminSite):
    # the platform's name, not Django's, on every console page (translated: both are lazy)
    site_header = settings.PORTAL_NAME
    site_title = settings.PORTAL_NAME
    index_title = _("Admin console")

    def has_permission(self, request):
        return super().has_permission(request) and user_is_verified(request.user)

    def login(self, request, extra_context=None):
        user = request.user
        if user.is_authenticated and user.is_active and user.is_staff and not user_is_verified(user):
            next_url = request.GET.get(REDIRECT_FIELD_NAME) or reverse("admin:index", current_app=self.name)
            return redirect(f"{reverse('portal:otp-verify')}?{urlencode({'next': next_url})}")
        return super().login(request, extra_context)
