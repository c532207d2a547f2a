"""Rate limit and slow mode, kept in the shared cache.

With REDIS_URL set the cache is Redis, so a limit holds across every daphne process; the
embedded default keeps it in process memory (one process only).
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache import cache

from rooms.access import Refusal

WINDOW_SECONDS = 60
logger = logging.getLogger(__name__)


class Throttled(Refusal):
    pass


def check_rate(*, user_id: int, now: float | None = None) -> None:
    """At most CHAT_RATE_LIMIT messages per user per minute window (0: no limit)."""
    limit = settings.CHAT_RATE_LIMIT
    if limit <= 0:
        return
    window = int((now if now is not None else time.time()) // WINDOW_SECONDS)
    key = f"chat:rate:{user_id}:{window}"
    try:
        cache.add(key, 0, timeout=WINDOW_SECONDS * 2)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=WINDOW_SECONDS * 2)
            count = 1
    except Exception:
        # The shared cache is down: let people talk rather than silence a room in crisis.
        logger.warning("rate limit unavailable (cache down); letting the message through")
        return
    if count > limit:
        raise Throttled(
            "rate_limited",
            f"You are sending messages quickly; please wait a moment (limit {limit} a minute).",
        )


def check_slow_mode(*, room_id: int, user_id: int, seconds: int) -> None:
    """One message per ``seconds`` per participant while the room is in slow mode."""
    if seconds <= 0:
        return
    try:
        first = cache.add(f"chat:slow:{room_id}:{user_id}", 1, timeout=seconds)
    except Exception:
        logger.warning("slow mode unavailable (cache down); letting the message through")
        return
    if not first:
        raise Throttled(
            "slow_mode", f"This room is in slow mode: one message every {seconds} seconds."
        )
