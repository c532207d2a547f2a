"""Running the escalation ladder: in the worker process, or in the web process when embedded."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from chat.events import Frame
from chat.fanout import send_outbox
from chat.presence import forget_dead_processes
from moderation.models import StaffConnection
from moderation.second_look import second_look_step
from moderation.services import PRESENCE_SECONDS, ladder_tick

logger = logging.getLogger(__name__)
_task: asyncio.Task[None] | None = None


async def _nobody(frame: Frame) -> None:
    """The ladder has no socket of its own to answer."""


async def ladder_step() -> None:
    """One tick: re-notify every escalation that is overdue, after its rows committed."""
    outbox = await database_sync_to_async(ladder_tick)()
    await send_outbox(outbox, _nobody)


def forget_stale_connections() -> None:
    """Staff sockets of a crashed process stop counting as online; room presence of dead
    processes is swept."""
    cutoff = timezone.now() - timedelta(seconds=PRESENCE_SECONDS * 10)
    StaffConnection.objects.filter(last_seen__lt=cutoff).delete()
    forget_dead_processes()


async def run_ladder(interval: float = 1.0) -> None:
    while True:
        try:
            await ladder_step()
        except Exception:
            logger.exception("escalation ladder tick failed; trying again")
        try:
            await second_look_step()
        except Exception:
            logger.exception("second look failed; trying again")
        await asyncio.sleep(interval)


def ensure_in_process_ladder() -> None:
    """Start the ladder in this process when it is the only one (no Redis, no worker)."""
    global _task
    if not settings.ESCALATION_LADDER_IN_PROCESS:
        return
    if _task is None or _task.done():
        _task = asyncio.get_running_loop().create_task(run_ladder())
