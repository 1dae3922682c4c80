"""Reports in the demo scenario: the flood's leading group receives a consolidated report every
morning at 08:00, and one has been generated already (in-process under `make run`)."""

from __future__ import annotations

from datetime import time

from django.contrib.auth import get_user_model
from django.db import transaction

from apps.incidents.models import Incident

from . import services
from .models import ReportSchedule

FLOOD = "长江南京—马鞍山段超警戒水位洪水"


def demo_load_reporting() -> int:
    office_head = get_user_model().objects.filter(username="js_xinxiban_head").first()
    flood = Incident.objects.filter(title=FLOOD).first()
    if office_head is None or flood is None or ReportSchedule.objects.filter(incident=flood).exists():
        return 0
    with transaction.atomic():
        services.schedule_set(actor=office_head, incident=flood, at_time=time(8, 0))
        services.report_request(actor=office_head, incident=flood)
    return 2
