"""Portal pages for the caller's own second factor (decision 0012): the account-security
overview, enrolling an authenticator app, backup codes, and verifying the session.

Every page is about `request.user` alone (nothing of anyone else is read or written), so they are
plain login-required views rather than scoped ones (tests/matrix/registry.py says so)."""

from urllib.parse import urlencode

import django_otp
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.generic import TemplateView

from apps.core.exceptions import ServiceError
from apps.core.views import INVALID, attach_error

from . import selectors, services
from .forms import OtpEnrolForm, OtpTokenForm
from .qr import qr_svg

PENDING_KEY = "otp_pending_totp_key"  # the secret being enrolled, kept in the session until confirmed


def otp_verify_url(next_url: str = "") -> str:
    url = reverse("portal:otp-verify")
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def _next(request, default: str = "portal:account-security") -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(default)


def _grouped(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


class _NoStoreMixin:
    """Pages that show a secret: never cached by the browser or a proxy."""

    def render_to_response(self, context, **response_kwargs):
        response = super().render_to_response(context, **response_kwargs)
        response["Cache-Control"] = "no-store"
        return response


class AccountSecurityView(LoginRequiredMixin, TemplateView):
    template_name = "accounts/security.html"

    def get_context_data(self, **kwargs):
        return (
            super().get_context_data(**kwargs)
            | selectors.otp_status(user=self.request.user)
            | {
                "verified": selectors.user_is_verified(self.request.user),
                "backup_code_count": services.BACKUP_CODE_COUNT,
            }
        )


class OtpEnrolView(_NoStoreMixin, LoginRequiredMixin, TemplateView):
    """Add an authenticator app: the secret and its QR code, then one code to confirm it."""

    template_name = "accounts/otp_enrol.html"

    def dispatch(self, request, *args, **kwargs):
        user = request.user
        if user.is_authenticated and not selectors.user_is_verified(user):
            if selectors.otp_status(user=user)["has_authenticator"]:
                messages.info(request, _("Enter a code from your current authenticator before replacing it."))
                return redirect(otp_verify_url(request.get_full_path()))
        return super().dispatch(request, *args, **kwargs)

    def _key(self) -> str:
        key = self.request.session.get(PENDING_KEY)
        if not key:
            key = self.request.session[PENDING_KEY] = services.otp_totp_key_new()
        return key

    def get_context_data(self, form=None, **kwargs):
        from base64 import b32encode
        from binascii import unhexlify

        from django_otp.plugins.otp_totp.models import TOTPDevice

        key = self._key()
        url = TOTPDevice(user=self.request.user, key=key).config_url
        return super().get_context_data(**kwargs) | {
            "form": form or OtpEnrolForm(),
            "secret": _grouped(b32encode(unhexlify(key)).decode()),
            "qr": qr_svg(url, label=_("QR code for your authenticator app")),
            "next": self.request.GET.get("next") or self.request.POST.get("next", ""),
        }

    def post(self, request, *args, **kwargs):
        form = OtpEnrolForm(request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=INVALID)
        try:
            device = services.otp_totp_enrol(
                actor=request.user,
                key=self._key(),
                token=form.cleaned_data["token"],
                verified=selectors.user_is_verified(request.user),
            )
        except ServiceError as exc:
            status = attach_error(form, exc)
            return self.render_to_response(self.get_context_data(form=form), status=status)
        request.session.pop(PENDING_KEY, None)
        django_otp.login(request, device)
        messages.success(request, _("Your authenticator is set up and this session is verified."))
        if request.POST.get("next"):
            return redirect(_next(request))
        return redirect("portal:otp-backup-codes")


class OtpBackupCodesView(_NoStoreMixin, LoginRequiredMixin, TemplateView):
    """Ten single-use backup codes, shown once when created (POST); the GET explains and offers
    the button. A verified session is needed for both."""

    template_name = "accounts/otp_backup_codes.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not selectors.user_is_verified(request.user):
            messages.info(request, _("Enter a code from your authenticator first."))
            return redirect(otp_verify_url(reverse("portal:otp-backup-codes")))
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return (
            super().get_context_data(**kwargs)
            | selectors.otp_status(user=self.request.user)
            | {
                "backup_code_count": services.BACKUP_CODE_COUNT,
            }
        )

    def post(self, request, *args, **kwargs):
        codes = services.otp_backup_codes_generate(
            actor=request.user, verified=selectors.user_is_verified(request.user)
        )
        return self.render_to_response(self.get_context_data(codes=codes))


class OtpVerifyView(LoginRequiredMixin, TemplateView):
    """Verify this session with a code: needed for the admin console and for approving access
    to sensitive data; anyone with an authenticator may do it at any time."""

    template_name = "accounts/otp_verify.html"

    def dispatch(self, request, *args, **kwargs):
        user = request.user
        if user.is_authenticated and not selectors.user_is_verified(user):
            status = selectors.otp_status(user=user)
            if not (status["has_authenticator"] or status["backup_codes_left"]):
                messages.info(request, _("Set up an authenticator app first."))
                next_url = request.GET.get("next") or request.POST.get("next") or ""
                target = reverse("portal:otp-enrol")
                return redirect(f"{target}?{urlencode({'next': next_url})}" if next_url else target)
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, form=None, **kwargs):
        return super().get_context_data(**kwargs) | {
            "form": form or OtpTokenForm(),
            "next": self.request.GET.get("next") or self.request.POST.get("next", ""),
            "verified": selectors.user_is_verified(self.request.user),
        }

    def post(self, request, *args, **kwargs):
        form = OtpTokenForm(request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=INVALID)
        try:
            device = services.otp_verify(actor=request.user, token=form.cleaned_data["token"])
        except ServiceError as exc:
            status = attach_error(form, exc)
            return self.render_to_response(self.get_context_data(form=form), status=status)
        django_otp.login(request, device)
        messages.success(request, _("This session is verified."))
        return redirect(_next(request, default=settings.LOGIN_REDIRECT_URL))
