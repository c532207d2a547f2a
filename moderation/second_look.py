"""The second look: every stored message screened again, off the message path, by the
thorough detector (``MODERATION_SECOND_LOOK``: the rules and the semantic stage).

Why: the rules screen a message in well under a millisecond before it is stored, but they
miss crisis language phrased in ways nobody wrote a rule for; the semantic stage catches
much of that at about 10 ms a message, too slow to sit in front of every ack in a busy
room. So the first look decides what is held and sent, and the second look follows within
a second or two: when it finds high or imminent risk the first look missed, it raises a flag
(source ``second_look``), escalates imminent risk and sends the person the crisis lines,
exactly as the first look would have. It never holds or hides a message already delivered,
and never lowers what the first look found.

It works from the database: every new message carries ``second_look_pending`` until its
look is done, rows are taken with SKIP LOCKED so two workers never look at one message
twice, and a restart loses none. It runs where the escalation ladder runs (the ``worker:``
process; inside the web process when embedded). Messages older than ``SECOND_LOOK_WINDOW``
when their turn comes (a backlog after an outage) are marked done unseen: a late flag on an
old conversation helps nobody.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chat.events import Frame, Outbox, room_control, room_group
from chat.fanout import send_outbox
from chat.models import Message, MessageStatus
from moderation.models import Flag, FlagSource
from moderation.policy import HoldFrom, decide, rank
from moderation.screening import screen_text
from moderation.services import flag_screened_message

logger = logging.getLogger(__name__)

SECOND_LOOK_BATCH = 10
# Batches per tick of the worker, so that a backlog never holds up the escalation ladder.
SECOND_LOOK_BATCHES_PER_TICK = 5
SECOND_LOOK_WINDOW = timedelta(minutes=30)


def _first_levels(messages: list[Message]) -> dict[int, str]:
    """The highest level the first look (or a peer) already flagged, by message id."""
    found: dict[int, str] = {}
    for message_id, level in Flag.objects.filter(message__in=messages).values_list(
        "message_id", "level"
    ):
        if message_id not in found or rank(level) > rank(found[message_id]):
            found[message_id] = level
    return found


def _recent(messages: list[Message]) -> dict[int, list[str]]:
    """Each message's author's few messages before it in the room, as the first look read."""
    keep = settings.MODERATION_RECENT_MESSAGES
    window = timedelta(seconds=settings.MODERATION_RECENT_SECONDS)
    earlier: dict[tuple[int, int], list[tuple[int, datetime, str]]] = defaultdict(list)
    rows = Message.objects.filter(
        room_id__in={m.room_id for m in messages},
        author_id__in={m.author_id for m in messages},
        sent_at__gte=min(m.sent_at for m in messages) - window,
        seq__lt=max(m.seq for m in messages),
    ).values_list("room_id", "author_id", "seq", "sent_at", "body")
    for room_id, author_id, seq, sent_at, body in rows:
        earlier[(room_id, author_id)].append((seq, sent_at, body))
    return {
        m.pk: [
            body
            for seq, sent_at, body in sorted(earlier[(m.room_id, m.author_id)])
            if seq < m.seq and sent_at >= m.sent_at - window
        ][-keep:]
        for m in messages
    }


def _look(message: Message, recent: list[str], first_level: str) -> Outbox:
    screening = screen_text(message.body, recent, detector=settings.MODERATION_SECOND_LOOK)
    if screening.failed:
        # The first look passed; a failing second look is a fault to fix, not a crisis.
        logger.error(
            "second look failed for message %s; left as the first look found it", message.pk
        )
        return Outbox()
    if rank(screening.level) < rank("high") or rank(screening.level) <= rank(first_level):
        return Outbox()
    # Delivered already: never hold now; flag, escalate and send resources as usual.
    decision = decide(level=screening.level, hold_from=HoldFrom.NEVER)
    found = flag_screened_message(
        message=message, screening=screening, decision=decision, source=FlagSource.SECOND_LOOK
    )
    # What the first look would have sent to the sender's socket goes to their sockets in
    # the room now.
    outbox = Outbox(groups=found.groups)
    for frame in found.sender:
        outbox.groups.append(
            (room_group(message.room_id), room_control(frame, user_id=message.author_id))
        )
    return outbox


def second_look_batch(
    *, limit: int = SECOND_LOOK_BATCH, now: datetime | None = None
) -> tuple[int, Outbox]:
    """Look again at up to ``limit`` pending messages, oldest first. Returns how many were
    taken and what to send once the transaction has committed."""
    cutoff = (now or timezone.now()) - SECOND_LOOK_WINDOW
    outbox = Outbox()
    with transaction.atomic():
        messages = list(
            Message.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("room", "author")
            .filter(second_look_pending=True)
            .order_by("id")[:limit]
        )
        if not messages:
            return 0, outbox
        looked = [m for m in messages if m.status != MessageStatus.HIDDEN and m.sent_at >= cutoff]
        if looked:
            first = _first_levels(looked)
            recent = _recent(looked)
            for message in looked:
                outbox.extend(_look(message, recent[message.pk], first.get(message.pk, "none")))
        Message.objects.filter(pk__in=[m.pk for m in messages]).update(second_look_pending=False)
    return len(messages), outbox


async def _nobody(frame: Frame) -> None:
    """The second look has no socket of its own to answer."""


async def second_look_step() -> int:
    """Look at what is pending, a few batches at most, sending each batch's notices after
    its commit. Returns how many messages were taken; off when MODERATION_SECOND_LOOK is
    empty."""
    if not settings.MODERATION_SECOND_LOOK:
        return 0
    total = 0
    for _ in range(SECOND_LOOK_BATCHES_PER_TICK):
        # Not on the thread that serves the web process's other ORM calls: a batch is
        # about 100 ms of model work.
        taken, outbox = await database_sync_to_async(second_look_batch, thread_sensitive=False)()
        await send_outbox(outbox, _nobody)
        total += taken
        if taken < SECOND_LOOK_BATCH:
            break
    return total
