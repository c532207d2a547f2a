"""The Procfile ``worker:``: runs escalation deadlines from the database, every second."""

from __future__ import annotations

import logging
import signal
import time
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run the escalation deadline loop (re-notify unacknowledged escalations)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between ticks")
        parser.add_argument("--once", action="store_true", help="run one tick and exit")

    def handle(self, *args: Any, **options: Any) -> None:
        self._running = True

        def stop(signum: int, frame: FrameType | None) -> None:
            self._running = False

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        logger.info("escalation worker started")
        while self._running:
            self.tick()
            if options["once"]:
                break
            time.sleep(options["interval"])
        logger.info("escalation worker stopped")

    def tick(self) -> None:
        """One pass over due escalations (the ladder arrives with the moderation work)."""
