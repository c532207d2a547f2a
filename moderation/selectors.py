"""Reads for staff: what a staff member is shown when their socket connects."""

from __future__ import annotations

from chat.events import Frame
from chat.presence import room_presence
from moderation import events
from moderation.models import Escalation, EscalationState, Flag, FlagState
from rooms.models import MemberRole, Membership, User

SNAPSHOT_FLAGS = 200


def rooms_led_by(user: User) -> list[int]:
    return list(
        Membership.objects.filter(
            user=user, role__in=[MemberRole.FACILITATOR, MemberRole.MENTOR]
        ).values_list("room_id", flat=True)
    )


def staff_snapshot(user: User, room_ids: list[int]) -> list[Frame]:
    """Who is in the user's rooms, every unresolved escalation (for on-call staff), then
    open flags of the user's rooms."""
    frames: list[Frame] = room_presence(room_ids) if room_ids else []
    if user.is_oncall:
        unresolved = (
            Escalation.objects.exclude(state=EscalationState.RESOLVED)
            .select_related("room", "flag", "flag__message", "flag__message__author", "flag__room")
            .order_by("created_at")
        )
        frames.extend(events.escalation_new(e) for e in unresolved)
    if room_ids:
        flags = (
            Flag.objects.filter(room_id__in=room_ids, state=FlagState.OPEN)
            .select_related("room", "message", "message__author")
            .order_by("-created_at")[:SNAPSHOT_FLAGS]
        )
        frames.extend(events.flag_new(f) for f in reversed(list(flags)))
    return frames
