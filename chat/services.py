"""Writes for chat: posting a message, the one path every message takes.

``message_post`` is called by the consumer through ``database_sync_to_async`` and by tests
directly. It checks, cleans, stores and returns the frames to send; it sends nothing itself,
so that nothing reaches anyone before the transaction has committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from chat import events
from chat.models import Message, MessageStatus
from chat.sanitize import clean_body
from chat.throttle import check_rate, check_slow_mode
from moderation.policy import Decision, decide
from moderation.screening import Screening, screen_text
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
    return reserve_seqs(room_id, 1)


def reserve_seqs(room_id: int, count: int) -> int:
    """Take the next ``count`` seqs of a room; returns the last of them.

    One statement that increments and returns under the row lock, held until commit:
    concurrent writers in any number of processes queue here, so seq never repeats, and once
    a seq is committed every lower one is committed too.
    """
    table = Room._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_seq = last_seq + %s WHERE id = %s RETURNING last_seq",
            [count, room_id],
        )
        row = cursor.fetchone()
    if row is None:
        raise PostRefused("not_found", "This room no longer exists.")
    return int(row[0])


@dataclass(frozen=True)
class Prepared:
    """A message that passed every check and was screened, ready to store."""

    access: RoomAccess
    client_id: str
    text: str
    screening: Screening
    decision: Decision


@dataclass
class BatchContext:
    """What checking a batch of one room's posts needs from the database, read at once:
    three queries per batch instead of three per message."""

    existing: dict[tuple[int, str], Message]
    memberships: dict[int, Membership]
    recent: dict[int, list[str]]


def _load_context(room: Room, posts: Sequence[tuple[RoomAccess, str, str]]) -> BatchContext:
    authors = {access.user.pk for access, _, _ in posts}
    client_ids = {client_id for _, client_id, _ in posts}
    existing = {
        (m.author_id, m.client_id): m
        for m in Message.objects.filter(
            room=room, author_id__in=authors, client_id__in=client_ids
        ).select_related("author")
    }
    # Mutes, locks, removals and slow mode change while a socket is open: read them fresh.
    memberships = {
        m.user_id: m
        for m in Membership.objects.select_related("room").filter(room=room, user_id__in=authors)
    }
    since = timezone.now() - timedelta(seconds=settings.MODERATION_RECENT_SECONDS)
    keep = settings.MODERATION_RECENT_MESSAGES
    # Each author's last few messages, each read on the (room, author, seq) index: ``keep``
    # rows per author however much they wrote in the window (a window function over all of
    # them grew with every message, and under a burst took most of a batch's time). One
    # query of per-author parts where the database allows it (PostgreSQL), else one each.
    parts = [
        Message.objects.filter(room=room, author_id=author, sent_at__gte=since)
        .order_by("-seq")
        .values_list("author_id", "seq", "body")[:keep]
        for author in sorted(authors)
    ]
    if len(parts) > 1 and connection.features.supports_slicing_ordering_in_compound:
        rows = list(parts[0].union(*parts[1:], all=True))
    else:
        rows = [row for part in parts for row in part]
    recent: dict[int, list[str]] = {author: [] for author in authors}
    for author_id, _, body in sorted(rows, key=lambda row: row[1]):
        recent[author_id].append(body)
    return BatchContext(existing, memberships, recent)


def _prepare(
    access: RoomAccess, client_id: str, body: str, context: BatchContext, earlier: Sequence[str]
) -> Prepared | PostResult:
    """Checks and screening, outside any transaction. A resent client_id returns its result.

    ``earlier`` are this author's messages ahead of this one in the same batch, not stored
    yet: the detector reads them as recent messages too.
    """
    existing = context.existing.get((access.user.pk, client_id))
    if existing is not None:
        return PostResult(message=existing, created=False, broadcast=None)
    membership = context.memberships.get(access.user.pk)
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
    recent = [*context.recent.get(access.user.pk, []), *earlier]
    screening = screen_text(text, recent[-settings.MODERATION_RECENT_MESSAGES :])
    decision = decide(
        level=screening.level,
        method_detail=screening.method_detail,
        hold_from=fresh.room.hold_from,
        detector_failed=screening.failed,
    )
    return Prepared(fresh, client_id, text, screening, decision)


def _store(room_id: int, items: Sequence[Prepared]) -> list[PostResult]:
    """Store prepared messages of one room in one transaction: one seq range, one insert,
    one commit. Message, flag and escalation commit together, or not at all."""
    with transaction.atomic():
        first = reserve_seqs(room_id, len(items)) - len(items) + 1
        messages = Message.objects.bulk_create(
            [
                Message(
                    room=item.access.room,
                    author=item.access.user,
                    seq=first + n,
                    client_id=item.client_id,
                    body=item.text,
                    status=MessageStatus.HELD if item.decision.hold else MessageStatus.DELIVERED,
                )
                for n, item in enumerate(items)
            ]
        )
        outboxes = [
            flag_screened_message(message=m, screening=item.screening, decision=item.decision)
            for m, item in zip(messages, items, strict=True)
        ]
    results = []
    for message, item, outbox in zip(messages, items, outboxes, strict=True):
        role = item.access.membership.role if item.access.membership else "participant"
        broadcast = (
            events.message_new(message, role=role)
            if message.status == MessageStatus.DELIVERED
            else None
        )
        results.append(
            PostResult(message=message, created=True, broadcast=broadcast, outbox=outbox)
        )
    return results


def _store_one(item: Prepared) -> PostResult:
    try:
        return _store(item.access.room.pk, [item])[0]
    except IntegrityError:
        # The same client_id raced in on another connection; that one won.
        existing = _existing(item.access, item.client_id)
        if existing is None:
            raise
        return PostResult(message=existing, created=False, broadcast=None)


def message_post(*, access: RoomAccess, client_id: str, body: str) -> PostResult:
    """Store a member's message and return what to acknowledge and broadcast.

    Idempotent on (room, author, client_id): resending returns the first message's result
    and stores nothing new.
    """
    result = message_post_batch([(access, client_id, body)])[0]
    if isinstance(result, Refusal):
        raise result
    return result


def message_post_batch(
    posts: Sequence[tuple[RoomAccess, str, str]],
) -> list[PostResult | Refusal]:
    """Post several messages to ONE room, in order, with a single commit (group commit).

    Each post gets what ``message_post`` would have given it: a result, or the refusal it
    would have raised. If a client_id raced in from elsewhere, the batch is stored one by one.
    """
    results: list[PostResult | Refusal | None] = [None] * len(posts)
    prepared: list[tuple[int, Prepared]] = []
    first_of: dict[tuple[int, str], int] = {}
    earlier: dict[int, list[str]] = {}
    duplicates: list[tuple[int, int]] = []
    if not posts:
        return []
    rooms = {access.room.pk for access, _, _ in posts}
    if len(rooms) != 1:
        raise ValueError("a batch holds the messages of one room")
    context = _load_context(posts[0][0].room, posts)
    for index, (access, client_id, body) in enumerate(posts):
        key = (access.user.pk, client_id)
        if key in first_of:
            duplicates.append((index, first_of[key]))
            continue
        first_of[key] = index
        try:
            outcome = _prepare(access, client_id, body, context, earlier.get(access.user.pk, ()))
        except Refusal as refused:
            results[index] = refused
            continue
        if isinstance(outcome, PostResult):
            results[index] = outcome
            continue
        earlier.setdefault(access.user.pk, []).append(outcome.text)
        prepared.append((index, outcome))
    if prepared:
        try:
            stored = _store(rooms.pop(), [item for _, item in prepared])
        except IntegrityError:
            stored = [_store_one(item) for _, item in prepared]
        for (index, _), result in zip(prepared, stored, strict=True):
            results[index] = result
    for index, first in duplicates:
        original = results[first]
        results[index] = (
            PostResult(message=original.message, created=False, broadcast=None)
            if isinstance(original, PostResult)
            else original
        )
    done = [r for r in results if r is not None]
    assert len(done) == len(posts), "every post gets a result or a refusal"
    return done
