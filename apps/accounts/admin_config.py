"""`django.contrib.admin` with the second-factor site as `admin.site` (INSTALLED_APPS names this
instead of "django.contrib.admin"). Kept apart from the site: it is imported before the models."""

from django.contrib.admin.apps import AdminConfig


class PlatformAdminConfig(AdminConfig):
    default_site = "apps.accounts.admin_site.VerifiedAdminSite"
