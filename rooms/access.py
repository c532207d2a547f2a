"""Who may do what in a room: the one place that decides.

Every consumer, view and service asks here; nothing else compares roles. The functions
fetch what they judge and raise ``AccessDenied`` with a machine-readable code, so that a
socket can answer with an error frame or a close code and a view with a 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from rooms.models import Membership, Room, RoomKind, User


class Refusal(Exception):
    """A request refused for a reason the user can be told.

    ``code`` is machine-readable (it goes into error frames), ``detail`` is for people.
    """

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class AccessDenied(Refusal):
    """The user may not do this here."""


@dataclass(frozen=True)
class RoomAccess:
    """A user's standing in one room, fetched once per connection or request."""

    user: User
    room: Room
    membership: Membership | None

    @property
    def leads_room(self) -> bool:
        return self.membership is not None and self.membership.leads_room

    @property
    def can_read(self) -> bool:
        return self.membership is not None


def _authenticated(user: Any) -> User:
    if user is None or not getattr(user, "is_authenticated", False):
        raise AccessDenied("unauthenticated", "Sign in first.")
    if not user.is_active:
        raise AccessDenied("unauthenticated", "This account is not active.")
    assert isinstance(user, User)
    return user


def access_room(*, user: Any, slug: str) -> RoomAccess:
    """Fetch the room and check that ``user`` may open it.

    A room that does not exist is refused like one the user may not see, so that the
    slugs of mentoring rooms cannot be probed.
    """
    person = _authenticated(user)
    room = Room.objects.filter(slug=slug).first()
    if room is None:
        raise AccessDenied("forbidden", "You are not a member of this room.")
    membership = Membership.objects.filter(user=person, room=room).first()
    if membership is None:
        raise AccessDenied("forbidden", "You are not a member of this room.")
    return RoomAccess(user=person, room=room, membership=membership)


def check_may_post(access: RoomAccess) -> Membership:
    """Raise unless the member may post now (locks and mutes bind participants only)."""
    membership = access.membership
    if membership is None:
        raise AccessDenied("forbidden", "You are not a member of this room.")
    if membership.leads_room:
        return membership
    if access.room.is_locked:
        raise AccessDenied("room_locked", "The facilitator has paused this room for now.")
    if membership.is_muted(timezone.now()):
        raise AccessDenied("muted", "You are muted in this room for a little while.")
    return membership


def check_may_moderate(access: RoomAccess) -> Membership:
    """Raise unless the user facilitates or mentors this room."""
    if access.membership is None or not access.membership.leads_room:
        raise AccessDenied("forbidden", "Only this room's facilitator or mentor may do that.")
    return access.membership


def may_join(*, user: Any, room: Room) -> bool:
    """Groups are open to any signed-in participant; mentoring rooms are assigned."""
    if not getattr(user, "is_authenticated", False) or room.kind != RoomKind.GROUP:
        return False
    return not Membership.objects.filter(user=user, room=room).exists()


def check_may_join(*, user: Any, room: Room) -> User:
    person = _authenticated(user)
    if room.kind != RoomKind.GROUP:
        raise AccessDenied("forbidden", "Mentoring rooms are assigned by staff.")
    return person


def connections_still_allowed(connections: list[tuple[int, int, str | None]]) -> set[int]:
    """Of open connections (room id, user id, session key), the indexes that may stay.

    A connection goes when its session is gone (the user signed out, or it expired), its
    user was deactivated, or its membership was removed. Two queries for any number of
    connections, so that every process can ask every few seconds.
    """
    from django.contrib.sessions.models import Session

    if not connections:
        return set()
    keys = {key for _, _, key in connections if key}
    alive = set(
        Session.objects.filter(session_key__in=keys, expire_date__gt=timezone.now()).values_list(
            "session_key", flat=True
        )
    )
    rooms = {room_id for room_id, _, _ in connections}
    users = {user_id for _, user_id, _ in connections}
    members = set(
        Membership.objects.filter(
            room_id__in=rooms, user_id__in=users, user__is_active=True
        ).values_list("room_id", "user_id")
    )
    return {
        index
        for index, (room_id, user_id, key) in enumerate(connections)
        if key in alive and (room_id, user_id) in members
    }


def staff_connection_still_allowed(user_id: int, session_key: str | None) -> bool:
    """A staff socket may stay while its session lives and its user is active staff."""
    from django.contrib.sessions.models import Session

    from rooms.models import Role

    if not session_key:
        return False
    return (
        Session.objects.filter(session_key=session_key, expire_date__gt=timezone.now()).exists()
        and User.objects.filter(
            pk=user_id,
            is_active=True,
            role__in=[Role.FACILITATOR, Role.MENTOR, Role.ONCALL],
        ).exists()
    )
