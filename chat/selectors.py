"""Reads for chat: what a member may see, in seq order."""

from __future__ import annotations

from django.db.models import Q

from chat.models import Message, MessageStatus
from rooms.access import RoomAccess
from rooms.models import Membership, Room


def visible_messages(
    *, access: RoomAccess, after_seq: int, up_to_seq: int, limit: int
) -> list[Message]:
    """Messages with after_seq < seq <= up_to_seq that this member may see, oldest first.

    Everyone sees delivered messages; an author also sees their own held ones.
    """
    visible = Q(status=MessageStatus.DELIVERED) | Q(
        status=MessageStatus.HELD, author_id=access.user.pk
    )
    return list(
        Message.objects.filter(visible, room=access.room, seq__gt=after_seq, seq__lte=up_to_seq)
        .select_related("author")
        .order_by("seq")[:limit]
    )


def messages_for_everyone(*, room_id: int, seqs: list[int]) -> dict[int, Message]:
    """Of the room's messages with these seqs, the delivered ones (every member's to see)."""
    return {
        message.seq: message
        for message in Message.objects.filter(
            room_id=room_id, seq__in=seqs, status=MessageStatus.DELIVERED
        ).select_related("author")
    }


def room_last_seq(*, room: Room) -> int:
    return Room.objects.values_list("last_seq", flat=True).get(pk=room.pk)


def room_roles(*, room: Room | int) -> dict[int, str]:
    """Each member's role in the room, by user id (authors are shown with it)."""
    return dict(Membership.objects.filter(room=room).values_list("user_id", "role"))
