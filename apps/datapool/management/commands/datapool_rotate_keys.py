from django.core.management.base import BaseCommand
from django.db import transaction

from apps.datapool.crypto import rotate
from apps.datapool.models import SyncSource


class Command(BaseCommand):
    help = "Re-encrypt stored sync-source connection strings under the first DATAPOOL_ENCRYPTION_KEYS key."

    def handle(self, *args, **options):
        count = 0
        with transaction.atomic():
            for source in SyncSource.objects.select_for_update().only("pk", "url_encrypted"):
                SyncSource.objects.filter(pk=source.pk).update(url_encrypted=rotate(source.url_encrypted))
                count += 1
        self.stdout.write(f"re-encrypted {count} connection string(s)")
