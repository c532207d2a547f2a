"""Facilitator and mentor tools, for their own rooms only.

Each tool checks through ``rooms.access``, changes the database, writes an audit event in
the same transaction, and returns the frames to send after commit.
"""

from __future__ import annotations

from datetime import timedelta
from secrets import token_hex

from django.db import transaction
from django.utils import timezone

from chat import events as chat_events
from chat.events import Outbox, room_control, room_group, staff_event
from chat.models import Message, MessageStatus
from chat.services import next_seq
from moderation import events
from moderation.audit import audit_record
from moderation.models import Flag, FlagState
from moderation.services import ModerationRefused, report_handled
from rooms.access import RoomAccess, access_room, check_may_moderate
from rooms.models import MemberRole, Membership, Room, RoomKind, User

MAX_MUTE_MINUTES = 7 * 24 * 60
MAX_SLOW_MODE_SECONDS = 3600


def _lead(actor: User, slug: str) -> RoomAccess:
    access = access_room(user=actor, slug=slug)
    check_may_moderate(access)
    return access


def _message(access: RoomAccess, seq: int) -> Message:
    message = (
        Message.objects.select_for_update(of=("self",))
        .select_related("author")
        .filter(room=access.room, seq=seq)
        .first()
    )
    if message is None:
        raise ModerationRefused("not_found", "There is no message at that position.")
    return message


def _participant(access: RoomAccess, username: str) -> Membership:
    membership = (
        Membership.objects.select_related("user")
        .filter(room=access.room, user__username=username)
        .first()
    )
    if membership is None:
        raise ModerationRefused("not_found", f"{username} is not in this room.")
    if membership.leads_room:
        raise ModerationRefused("forbidden", "Room leaders cannot be moderated by each other here.")
    return membership


def _audit(
    actor: User, action: str, target_type: str, target_id: object, **details: object
) -> None:
    audit_record(
        actor=actor, action=action, target_type=target_type, target_id=target_id, details=details
    )


def _handle_flags(message: Message) -> Outbox:
    outbox = Outbox()
    for flag in Flag.objects.filter(message=message, state=FlagState.OPEN).select_related(
        "room", "message"
    ):
        flag.state = FlagState.HANDLED
        flag.handled_at = timezone.now()
        flag.save(update_fields=["state", "handled_at"])
        outbox.groups.append(
            (events.staff_room_group(flag.room_id), staff_event(events.flag_updated(flag)))
        )
        outbox.extend(report_handled(flag))
    return outbox


def message_hide(*, actor: User, slug: str, seq: int) -> Outbox:
    """Hide a message from everyone's screen, live."""
    access = _lead(actor, slug)
    with transaction.atomic():
        message = _message(access, seq)
        if message.status == MessageStatus.HIDDEN:
            raise ModerationRefused("already_hidden", "That message is already hidden.")
        message.status = MessageStatus.HIDDEN
        message.save(update_fields=["status"])
        _audit(actor, "message.hidden", "message", message.pk, room=slug, seq=seq)
        outbox = _handle_flags(message)
    frame = {"type": "message.hidden", "seq": seq}
    outbox.groups.append((room_group(access.room.pk), room_control(frame)))
    outbox.groups.append(
        (events.staff_room_group(access.room.pk), staff_event({**frame, "room": slug}))
    )
    return outbox


def message_release(*, actor: User, slug: str, seq: int) -> Outbox:
    """Release a held message to the group.

    It takes a new seq at the end of the room: sockets only ever see seq increase, and a
    message released late appears where the group sees it, not back in the past.
    """
    access = _lead(actor, slug)
    with transaction.atomic():
        message = _message(access, seq)
        if message.status != MessageStatus.HELD:
            raise ModerationRefused("not_held", "Only a held message can be released.")
        message.seq = next_seq(access.room.pk)
        message.status = MessageStatus.DELIVERED
        message.save(update_fields=["seq", "status"])
        _audit(
            actor,
            "message.released",
            "message",
            message.pk,
            room=slug,
            held_seq=seq,
            seq=message.seq,
        )
        outbox = _handle_flags(message)
        role = (
            Membership.objects.filter(room=access.room, user_id=message.author_id)
            .values_list("role", flat=True)
            .first()
        ) or MemberRole.PARTICIPANT
    frame = chat_events.message_new(message, role=role)
    outbox.groups.append(
        (
            room_group(access.room.pk),
            {"type": "room.message", "seq": message.seq, "text": chat_events.encode(frame)},
        )
    )
    outbox.groups.append(
        (
            events.staff_room_group(access.room.pk),
            staff_event(
                {"type": "message.released", "room": slug, "held_seq": seq, "seq": message.seq}
            ),
        )
    )
    return outbox


def member_mute(*, actor: User, slug: str, username: str, minutes: int) -> Outbox:
    if not 0 <= minutes <= MAX_MUTE_MINUTES:
        raise ModerationRefused(
            "invalid_field", f"minutes must be 0 to {MAX_MUTE_MINUTES} (0 unmutes)."
        )
    access = _lead(actor, slug)
    with transaction.atomic():
        membership = _participant(access, username)
        until = timezone.now() + timedelta(minutes=minutes) if minutes else None
        membership.muted_until = until
        membership.save(update_fields=["muted_until"])
        _audit(
            actor,
            "member.muted" if minutes else "member.unmuted",
            "membership",
            membership.pk,
            room=slug,
            minutes=minutes,
        )
    notice = {
        "type": "member.muted",
        "room": slug,
        "until": until.isoformat() if until else None,
        "detail": (
            f"A facilitator paused your messages here for {minutes} minutes. You can still read."
            if minutes
            else "You can write in this room again."
        ),
    }
    return Outbox(
        groups=[(room_group(access.room.pk), room_control(notice, user_id=membership.user_id))]
    )


def member_remove(*, actor: User, slug: str, username: str) -> Outbox:
    """Remove a participant; their open sockets to the room are closed."""
    access = _lead(actor, slug)
    with transaction.atomic():
        membership = _participant(access, username)
        user_id = membership.user_id
        _audit(actor, "member.removed", "membership", membership.pk, room=slug, user=username)
        membership.delete()
    notice = {
        "type": "member.removed",
        "room": slug,
        "detail": "You have been removed from this room.",
    }
    return Outbox(
        groups=[(room_group(access.room.pk), room_control(notice, user_id=user_id, close=True))]
    )


def _room_settings(actor: User, slug: str, action: str, **changes: object) -> Outbox:
    access = _lead(actor, slug)
    with transaction.atomic():
        room = Room.objects.select_for_update().get(pk=access.room.pk)
        for name, value in changes.items():
            setattr(room, name, value)
        room.save(update_fields=list(changes))
        _audit(actor, action, "room", room.pk, room=slug, **changes)
    frame = events.room_state(room)
    return Outbox(
        groups=[
            (room_group(room.pk), room_control(frame)),
            (events.staff_room_group(room.pk), staff_event(frame)),
        ]
    )


def room_lock(*, actor: User, slug: str, locked: bool) -> Outbox:
    return _room_settings(
        actor, slug, "room.locked" if locked else "room.unlocked", is_locked=locked
    )


def room_slow_mode(*, actor: User, slug: str, seconds: int) -> Outbox:
    if not 0 <= seconds <= MAX_SLOW_MODE_SECONDS:
        raise ModerationRefused("invalid_field", f"seconds must be 0 to {MAX_SLOW_MODE_SECONDS}.")
    return _room_settings(actor, slug, "room.slow_mode", slow_mode_seconds=seconds)


def checkin_open(*, actor: User, slug: str, username: str) -> Outbox:
    """Open a private check-in room between the leader and one participant."""
    access = _lead(actor, slug)
    with transaction.atomic():
        membership = _participant(access, username)
        room = Room.objects.create(
            slug=f"checkin-{token_hex(6)}",
            title=f"Check-in with {membership.user.public_name}",
            kind=RoomKind.CHECKIN,
            topic=f"A private check-in from {access.room.title}",
        )
        Membership.objects.create(
            user=actor, room=room, role=MemberRole.FACILITATOR, agreement_accepted_at=timezone.now()
        )
        Membership.objects.create(
            user=membership.user,
            room=room,
            role=MemberRole.PARTICIPANT,
            agreement_accepted_at=timezone.now(),
        )
        _audit(actor, "checkin.opened", "room", room.pk, from_room=slug, participant=username)
    invite = {
        "type": "checkin.opened",
        "room": room.slug,
        "title": room.title,
        "url": f"/rooms/{room.slug}/",
        "detail": f"{actor.public_name} opened a private check-in with you.",
    }
    return Outbox(
        sender=[{**invite, "participant": username}],
        groups=[(room_group(access.room.pk), room_control(invite, user_id=membership.user_id))],
    )
