"""Reads for rooms."""

from __future__ import annotations

from django.db.models import QuerySet

from rooms.models import Membership, Room, RoomKind, User


def memberships_of(*, user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("room").order_by("room__title")


def groups_open_to(*, user: User) -> QuerySet[Room]:
    """Groups the user is not in yet and may join."""
    return Room.objects.filter(kind=RoomKind.GROUP).exclude(memberships__user=user)
