import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0001_initial"),
        ("organizations", "0002_department_permission_codenames"),
    ]

    operations = [
        migrations.AddField(
            model_name="leadinggroup",
            name="convened_for",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="convened_groups",
                to="incidents.incident",
                verbose_name="convened for incident",
            ),
        ),
        migrations.AddConstraint(
            model_name="leadinggroup",
            constraint=models.CheckConstraint(
                condition=models.Q(("convened_for__isnull", True), ("kind", "convened"), _connector="OR"),
                name="leading_group_convened_for_needs_convened_kind",
                violation_error_message="Only a group convened for an incident names an incident.",
            ),
        ),
    ]
