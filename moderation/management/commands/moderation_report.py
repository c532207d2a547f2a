"""Precision of the crisis screening, by rule and by level, from staff verdicts on flags."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.core.management.base import BaseCommand

from moderation.models import Flag, FlagSource, Verdict


class Command(BaseCommand):
    help = "Print screening precision by rule and level from confirmed / false-alarm verdicts."

    def handle(self, *args: Any, **options: Any) -> None:
        by_rule: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        by_level: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        flags = Flag.objects.filter(source=FlagSource.DETECTOR).exclude(verdict=Verdict.NONE)
        for level, evidence, verdict in flags.values_list("level", "evidence", "verdict"):
            hit = 0 if verdict == Verdict.CONFIRMED else 1
            by_level[level][hit] += 1
            for rule in {e.get("rule", "?") for e in evidence}:
                by_rule[rule][hit] += 1
        if not by_level:
            self.stdout.write("No reviewed flags yet: mark flags confirmed or false alarm first.")
            return
        self._table("level", by_level)
        self.stdout.write("")
        self._table("rule", by_rule)

    def _table(self, title: str, counts: dict[str, list[int]]) -> None:
        width = max(len(title), *(len(k) for k in counts))
        self.stdout.write(f"{title:<{width}}  confirmed  false_alarm  precision")
        for key, (confirmed, false_alarm) in sorted(
            counts.items(), key=lambda kv: (-(kv[1][0] + kv[1][1]), kv[0])
        ):
            precision = confirmed / (confirmed + false_alarm)
            self.stdout.write(
                f"{key:<{width}}  {confirmed:>9}  {false_alarm:>11}  {precision:>9.2f}"
            )
