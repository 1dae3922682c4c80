from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.ledger.selectors import ledger_verify


class Command(BaseCommand):
    help = "Replay the hash chain and check it against the signed checkpoints; report the first bad seq."

    def add_arguments(self, parser):
        parser.add_argument("--checkpoints", type=Path, help="checkpoint file (default: from settings)")

    def handle(self, *args, **options):
        result = ledger_verify(checkpoint_file=options.get("checkpoints"))
        for problem in result.problems:
            self.stderr.write(self.style.WARNING(problem))
        if not result.ok:
            raise CommandError(f"Ledger BROKEN at seq {result.first_bad_seq}: {result.reason}")
        self.stdout.write(
            self.style.SUCCESS(f"Ledger OK: {result.events} events, {result.checkpoints} checkpoints verified.")
        )
