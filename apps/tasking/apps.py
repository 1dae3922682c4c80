from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TaskingConfig(AppConfig):
    name = "apps.tasking"
    label = "tasking"
    verbose_name = _("Tasks")
