"""Check the audit log's hash chain: say that it holds, or name the first broken link."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from moderation.audit import audit_verify


class Command(BaseCommand):
    help = "Verify the audit log's hash chain."

    def handle(self, *args: Any, **options: Any) -> None:
        report = audit_verify()
        if not report.holds:
            raise CommandError(
                f"The audit chain is broken at event #{report.first_broken}: {report.reason} "
                f"({report.checked} events before it check out)."
            )
        self.stdout.write(f"The audit chain holds: {report.checked} events verified.")
