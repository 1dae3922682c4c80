from django.core.management.base import BaseCommand

from apps.organizations.demo import DEMO_PASSWORD, demo_load, demo_load_convened


class Command(BaseCommand):
    help = "Load the demo scenario (idempotent) and print the demo logins."

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true", help="do not print the logins")

    def handle(self, *args, **options):
        report = demo_load()
        from apps.access.demo import demo_load_access
        from apps.datapool.demo import demo_load_datapool
        from apps.incidents.demo import demo_load_incidents
        from apps.monitoring.demo import demo_load_monitoring
        from apps.reporting.demo import demo_load_reporting
        from apps.tasking.demo import demo_load_tasks

        report.created += demo_load_incidents()
        report.created += demo_load_convened()  # needs the incidents step's spill
        report.created += demo_load_tasks()
        report.created += demo_load_datapool()
        report.created += demo_load_access()
        report.created += demo_load_monitoring()
        report.created += demo_load_reporting()
        self.stdout.write(self.style.SUCCESS(f"Demo scenario ready ({report.created} objects created)."))
        if options["quiet"]:
            return
        self.stdout.write(f"\nDemo logins (password for every account: {DEMO_PASSWORD})")
        for username, display, what in report.logins:
            self.stdout.write(f"  {username:<24} {display:<6} {what}")
        self.stdout.write("\nPortal: http://127.0.0.1:8000/   Admin: http://127.0.0.1:8000/admin/   API: /api/v1/docs/")
