from django.core.management.base import BaseCommand

from apps.ledger.services import ledger_checkpoint_write


class Command(BaseCommand):
    help = "Sign the ledger head and append it to the checkpoint file (also run by Celery beat)."

    def handle(self, *args, **options):
        cp = ledger_checkpoint_write()
        self.stdout.write(f"checkpoint at seq {cp.seq}" if cp else "no new events since the last checkpoint")
