"""The demo scenario includes early warning and reporting: a fever-clinic rule that has raised
its alert, and the flood's daily consolidated report with one already generated."""

import io

import pytest
from django.core.management import call_command

from apps.monitoring.models import Alert, MonitoringRule
from apps.reporting.models import Report, ReportSchedule

pytestmark = pytest.mark.django_db


def test_the_demo_has_a_rule_an_alert_a_schedule_and_a_report(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("load_demo", "--quiet", stdout=io.StringIO())
    assert MonitoringRule.objects.count() == 2
    alert = Alert.objects.get()
    assert alert.level == "yellow" and alert.region.code == "320106" and alert.value >= 20
    assert ReportSchedule.objects.get().at_time.strftime("%H:%M") == "08:00"
    assert Report.objects.get().status == "done"
    # loading again adds nothing
    with django_capture_on_commit_callbacks(execute=True):
        call_command("load_demo", "--quiet", stdout=io.StringIO())
    assert (MonitoringRule.objects.count(), Alert.objects.count(), Report.objects.count()) == (2, 1, 1)
