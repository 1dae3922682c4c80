"""`manage.py verify_archive FILE`: check an incident archive against its manifest and the ledger."""

from django.core.management.base import BaseCommand, CommandError

from apps.reporting.services import archive_verify


class Command(BaseCommand):
    help = "Verify an incident archive (zip): every file against the manifest, the manifest against the ledger."

    def add_arguments(self, parser):
        parser.add_argument("file", help="path of the archive (.zip)")

    def handle(self, *args, **options):
        try:
            with open(options["file"], "rb") as fh:
                result = archive_verify(fh)
        except OSError as exc:
            raise CommandError(f"cannot read {options['file']}: {exc}") from exc
        for path in result.changed:
            self.stderr.write(f"CHANGED    {path}")
        for path in result.missing:
            self.stderr.write(f"MISSING    {path}")
        for path in result.unexpected:
            self.stderr.write(f"UNEXPECTED {path}")
        for problem in result.problems:
            self.stderr.write(f"PROBLEM    {problem}")
        if not result.ok:
            raise CommandError(f"archive does NOT verify (root hash {result.root_hash})")
        self.stdout.write(
            self.style.SUCCESS(
                f"archive verifies: root hash {result.root_hash} recorded in ledger event #{result.ledger_seq}"
            )
        )
