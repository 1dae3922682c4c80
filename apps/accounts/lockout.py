"""Brute-force lockout (django-axes): which address a request comes from, and what a locked-out
caller sees. Lockouts count failures per username AND address together (decision 0012)."""

from __future__ import annotations

from axes.helpers import get_cool_off
from django.conf import settings
from django.shortcuts import render


def client_ip(request) -> str | None:
    """The caller's address: REMOTE_ADDR, or, behind `DJANGO_TRUSTED_PROXY_COUNT` reverse proxies
    that each append to X-Forwarded-For, the address the outermost trusted proxy saw. Entries to the
    left of that were written by the client and are never trusted."""
    proxies = settings.AUTH_TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR")


def lockout_response(request, original_response=None, credentials=None):
    """The page a locked-out login attempt gets instead of the form: translated, 429, no details
    about the account (whether it exists, how many tries were made)."""
    cool_off = get_cool_off(request)
    minutes = max(int(cool_off.total_seconds() // 60), 1) if cool_off else None
    return render(
        request,
        "registration/locked_out.html",
        {"cooloff_minutes": minutes},
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )
