"""`python manage.py classify_messages`: screen JSON lines from standard input.

Input: one ``{"id": ..., "text": ...}`` per line (optionally ``"recent": [...]``). Output, in
the same order: ``{"id", "level", "categories", "evidence", "hold"}``, or ``{"id", "error"}``
for a line that cannot be read; the run goes on. Blank lines are skipped. Needs no
database and no Redis (CONTRACT.md section 3). The logic is moderation.detection.jsonl;
messages are screened by `screen_thorough` (the rules, raised by the trained second stage
when it is installed, else the rules alone with one warning on stderr).
"""

from __future__ import annotations

import io
import sys
from typing import Any

from django.core.management.base import BaseCommand

from moderation.detection.jsonl import classify_lines


class Command(BaseCommand):
    help = "Screen JSON lines {id, text} from stdin; write {id, level, categories, evidence}."

    # Screening is a pure function of the text: no database, no checks that need one.
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def handle(self, *args: Any, **options: Any) -> None:
        stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
        out = self.stdout
        for answer in classify_lines(stdin):
            out.write(answer)
            out.flush()
