"""The Procfile ``worker:``: runs the escalation ladder from the database, every second, and
the second look (moderation.second_look) at every new message.

Any number of workers may run: rows are taken with SKIP LOCKED, so none pages twice. Killing
and restarting a worker loses nothing, since deadlines and tiers live in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

from channels.db import database_sync_to_async
from django.core.management.base import BaseCommand, CommandParser

from moderation.ladder import forget_stale_connections, ladder_step
from moderation.second_look import second_look_step

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Run the escalation ladder (re-notify unacknowledged escalations past their deadline) "
        "and the thorough detector's second look at new messages."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between ticks")
        parser.add_argument("--once", action="store_true", help="run one tick and exit")

    def handle(self, *args: Any, **options: Any) -> None:
        asyncio.run(self._run(options["interval"], options["once"]))

    async def _run(self, interval: float, once: bool) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        logger.info("escalation worker started (every %ss)", interval)
        ticks = 0
        while not stop.is_set():
            try:
                await ladder_step()
                if ticks % 60 == 0:
                    await database_sync_to_async(forget_stale_connections)()
            except Exception:
                logger.exception("escalation ladder tick failed; trying again")
            try:
                await second_look_step()
            except Exception:
                logger.exception("second look failed; trying again")
            ticks += 1
            if once:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
        logger.info("escalation worker stopped")
