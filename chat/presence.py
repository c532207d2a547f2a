"""Who is in a room right now, across every web process: one row per open room socket.

A room's leaders see it on their dashboard. Each process beats (the room hub's sync loop),
so the rows of a process that was killed stop counting after ``PROCESS_TIMEOUT`` and are
swept later. Staff are told when a person's first socket in a room opens and when their
last one closes; a staff socket also gets the whole picture when it connects and again
every so often, which mends any notice that two processes sent in crossed order.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from chat.events import Frame, Outbox, person_frame, staff_event
from chat.models import Presence, ServerProcess
from rooms.access import RoomAccess
from rooms.models import Membership, Room, User

# The hub beats every SYNC_SECONDS (2 s): five missed beats and a process counts as gone.
PROCESS_TIMEOUT = timedelta(seconds=10)
# A dead process's rows are deleted once it has been silent this long.
PROCESS_FORGOTTEN = timedelta(minutes=10)


def _staff_room_group(room_id: int) -> str:
    # Imported late: moderation's events module imports chat's.
    from moderation.events import staff_room_group

    return staff_room_group(room_id)


def process_beat(*, name: str) -> int:
    """Say that this process is alive; returns its row's id."""
    process, _ = ServerProcess.objects.update_or_create(
        name=name, defaults={"seen_at": timezone.now()}
    )
    return process.pk


def _live(now: datetime | None = None) -> QuerySet[Presence]:
    cutoff = (now or timezone.now()) - PROCESS_TIMEOUT
    return Presence.objects.filter(process__seen_at__gte=cutoff)


def _changed(room: Room, user: User, role: str, *, present: bool) -> Outbox:
    frame = {
        "type": "presence.changed",
        "room": room.slug,
        "person": person_frame(user, role),
        "present": present,
    }
    outbox = Outbox()
    outbox.groups.append((_staff_room_group(room.pk), staff_event(frame)))
    return outbox


def _role(access: RoomAccess) -> str:
    return access.membership.role if access.membership is not None else access.user.role


def presence_enter(*, access: RoomAccess, process_id: int) -> tuple[int, Outbox]:
    """A room socket opened. Returns its presence row and, if this is the person's first
    socket in the room, the notice for the room's leaders."""
    # Looked at before the insert: two first sockets opening at once both notify (the
    # same news twice), rather than neither.
    already = _live().filter(room=access.room, user=access.user).exists()
    row = Presence.objects.create(room=access.room, user=access.user, process_id=process_id)
    if already:
        return row.pk, Outbox()
    return row.pk, _changed(access.room, access.user, _role(access), present=True)


def presence_leave(*, access: RoomAccess, presence_id: int) -> Outbox:
    """A room socket closed; if it was the person's last one in the room, say so."""
    # Deleted before looking: of two last sockets closing at once, the later look sees
    # both gone, so at least one notifies.
    Presence.objects.filter(pk=presence_id).delete()
    if _live().filter(room=access.room, user=access.user).exists():
        return Outbox()
    return _changed(access.room, access.user, _role(access), present=False)


def room_presence(room_ids: Iterable[int]) -> list[Frame]:
    """The whole picture for these rooms: one ``room.presence`` frame each."""
    ids = list(room_ids)
    rooms = {room.pk: room for room in Room.objects.filter(pk__in=ids)}
    roles = {
        (room_id, user_id): role
        for room_id, user_id, role in Membership.objects.filter(room_id__in=ids).values_list(
            "room_id", "user_id", "role"
        )
    }
    present: dict[int, dict[int, User]] = {pk: {} for pk in rooms}
    for row in _live().filter(room_id__in=ids).select_related("user").order_by("opened_at"):
        present[row.room_id].setdefault(row.user_id, row.user)
    frames = []
    for room_id, room in sorted(rooms.items(), key=lambda item: item[1].title):
        people = [
            person_frame(user, roles.get((room_id, user.pk), user.role))
            for user in sorted(present[room_id].values(), key=lambda u: u.public_name.lower())
        ]
        frames.append({"type": "room.presence", "room": room.slug, "present": people})
    return frames


def forget_dead_processes(now: datetime | None = None) -> int:
    """Delete processes (and so their presence rows) silent for PROCESS_FORGOTTEN."""
    cutoff = (now or timezone.now()) - PROCESS_FORGOTTEN
    deleted, _ = ServerProcess.objects.filter(seen_at__lt=cutoff).delete()
    return deleted
