"""Writes for rooms and memberships."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from rooms.access import check_may_join
from rooms.models import MemberRole, Membership, Room, RoomKind, User


def membership_add(*, user: User, room: Room, role: MemberRole) -> Membership:
    """Add ``user`` to ``room`` (idempotent), keeping each room kind's shape.

    A mentoring room holds exactly one mentor and one participant; a group may have several
    facilitators but no mentor.
    """
    with transaction.atomic():
        Room.objects.select_for_update().filter(pk=room.pk).first()
        existing = Membership.objects.filter(user=user, room=room).first()
        if existing is not None:
            if existing.role != role:
                raise ValidationError(f"{user} is already in {room} as {existing.role}.")
            return existing
        if room.kind == RoomKind.MENTORING:
            if role == MemberRole.FACILITATOR:
                raise ValidationError("A mentoring room has a mentor, not a facilitator.")
            if Membership.objects.filter(room=room, role=role).exists():
                raise ValidationError(f"This mentoring room already has its {role}.")
        elif role == MemberRole.MENTOR:
            raise ValidationError("A group is led by facilitators, not mentors.")
        return Membership.objects.create(user=user, room=room, role=role)


def room_join(*, user: User, room: Room, accept_agreement: bool) -> Membership:
    """A participant joins a group, accepting its current agreement."""
    person = check_may_join(user=user, room=room)
    if not accept_agreement:
        raise ValidationError("Please read and accept the group agreement to join.")
    with transaction.atomic():
        membership, _ = Membership.objects.get_or_create(
            user=person, room=room, defaults={"role": MemberRole.PARTICIPANT}
        )
        return agreement_accept(membership=membership)


def agreement_accept(*, membership: Membership) -> Membership:
    membership.agreement_accepted_at = timezone.now()
    membership.agreement_version_accepted = membership.room.agreement_version
    membership.save(update_fields=["agreement_accepted_at", "agreement_version_accepted"])
    return membership
