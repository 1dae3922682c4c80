"""Seed one ReportingRule per severity with the statutory defaults, so that a fresh install's admin
console has the rules to edit. Idempotent: a severity that already has a row (edited or not) is
left alone; reversing keeps the rows (they may have been edited since)."""

from django.db import migrations

# The same values as apps.incidents.services.DEFAULT_INITIAL_MINUTES (I/II within 4 h of the first
# sighting); county → city 2 h, city → province 3 h and the rest are the model's defaults.
INITIAL_MINUTES = {1: 240, 2: 240, 3: 480, 4: 1440}


def seed_reporting_rules(apps, schema_editor):
    ReportingRule = apps.get_model("incidents", "ReportingRule")
    for severity, minutes in INITIAL_MINUTES.items():
        ReportingRule.objects.get_or_create(severity=severity, defaults={"initial_minutes": minutes})


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0005_intake_and_late_gap"),
    ]

    operations = [
        migrations.RunPython(seed_reporting_rules, migrations.RunPython.noop),
    ]
