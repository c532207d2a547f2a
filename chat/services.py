"""Writes for chat: posting a message, the one path every message takes.

``message_post`` is called by the consumer through ``database_sync_to_async`` and by tests
directly. It checks, cleans, stores and returns the frames to send; it sends nothing itself,
so that nothing reaches anyone before the transaction has committed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from chat import events
from chat.models import Message, MessageStatus
from chat.sanitize import clean_body
from chat.throttle import check_rate, check_slow_mode
from moderation.policy import decide
from moderation.screening import screen_text
from moderation.services import flag_screened_message
from rooms.access import AccessDenied, Refusal, RoomAccess, check_may_post
from rooms.models import Membership, Room


class PostRefused(Refusal):
    pass


@dataclass(frozen=True)
class PostResult:
    message: Message
    created: bool
    # The frame for the room's members; None when nothing goes to the room
    # (a held message, or a resent client_id whose message went out already).
    broadcast: events.Frame | None
    # Moderation's frames: resources to the sender, flags and escalations to staff.
    outbox: events.Outbox = field(default_factory=events.Outbox)

    @property
    def ack(self) -> events.Frame:
        return events.message_ack(self.message)


def _existing(access: RoomAccess, client_id: str) -> Message | None:
    return Message.objects.filter(room=access.room, author=access.user, client_id=client_id).first()


def next_seq(room_id: int) -> int:
    # One statement that increments and returns under the row lock, held until commit:
    # concurrent writers in any number of processes queue here, so seq never repeats.
    table = Room._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_seq = last_seq + 1 WHERE id = %s RETURNING last_seq",
            [room_id],
        )
        row = cursor.fetchone()
    if row is None:
        raise PostRefused("not_found", "This room no longer exists.")
    return int(row[0])


def message_post(*, access: RoomAccess, client_id: str, body: str) -> PostResult:
    """Store a member's message and return what to acknowledge and broadcast.

    Idempotent on (room, author, client_id): resending returns the first message's result
    and stores nothing new.
    """
    existing = _existing(access, client_id)
    if existing is not None:
        return PostResult(message=existing, created=False, broadcast=None)

    # Mutes, locks, removals and slow mode change while a socket is open: read them fresh.
    membership = (
        Membership.objects.select_related("room").filter(pk=access.membership.pk).first()
        if access.membership is not None
        else None
    )
    if membership is None:
        raise AccessDenied("forbidden", "You are no longer a member of this room.")
    fresh = RoomAccess(user=access.user, room=membership.room, membership=membership)
    check_may_post(fresh)
    text = clean_body(body)
    if not text:
        raise PostRefused("empty_body", "That message is empty once formatting is removed.")
    if len(text) > settings.CHAT_MAX_BODY:
        raise PostRefused("too_long", f"Messages can be up to {settings.CHAT_MAX_BODY} characters.")
    check_rate(user_id=access.user.pk)
    if not membership.leads_room:
        check_slow_mode(
            room_id=fresh.room.pk, user_id=access.user.pk, seconds=fresh.room.slow_mode_seconds
        )

    # Screening comes before storing, outside the transaction: it is pure CPU work.
    screening = screen_text(text, _recent_bodies(access))
    decision = decide(
        level=screening.level,
        method_detail=screening.method_detail,
        hold_from=fresh.room.hold_from,
        detector_failed=screening.failed,
    )
    try:
        with transaction.atomic():
            seq = next_seq(fresh.room.pk)
            message = Message.objects.create(
                room=fresh.room,
                author=access.user,
                seq=seq,
                client_id=client_id,
                body=text,
                status=MessageStatus.HELD if decision.hold else MessageStatus.DELIVERED,
            )
            # Message, flag and escalation commit together, or not at all.
            outbox = flag_screened_message(message=message, screening=screening, decision=decision)
    except IntegrityError:
        # The same client_id raced in on another connection; that one won.
        existing = _existing(access, client_id)
        if existing is None:
            raise
        return PostResult(message=existing, created=False, broadcast=None)

    broadcast = (
        events.message_new(message, role=membership.role)
        if message.status == MessageStatus.DELIVERED
        else None
    )
    return PostResult(message=message, created=True, broadcast=broadcast, outbox=outbox)


def _recent_bodies(access: RoomAccess) -> list[str]:
    """The sender's last few messages in this room, oldest first, for the detector."""
    since = timezone.now() - timedelta(seconds=settings.MODERATION_RECENT_SECONDS)
    bodies = (
        Message.objects.filter(room=access.room, author=access.user, sent_at__gte=since)
        .order_by("-seq")
        .values_list("body", flat=True)[: settings.MODERATION_RECENT_MESSAGES]
    )
    return list(reversed(bodies))
