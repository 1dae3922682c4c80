from django.conf import settings

from apps.organizations.selectors import user_heads_a_department


def portal(request):
    return {
        "PORTAL_NAME": settings.PORTAL_NAME,
        "is_head": user_heads_a_department(user=getattr(request, "user", None)),
    }
