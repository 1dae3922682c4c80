from django.conf import settings

from apps.core.permissions import Role
from apps.core.scoping import principal_for


def portal(request):
    principal = principal_for(getattr(request, "user", None))
    return {
        "PORTAL_NAME": settings.PORTAL_NAME,
        "is_head": bool(principal and (principal.is_superuser or principal.seats_for({Role.HEAD}))),
    }
