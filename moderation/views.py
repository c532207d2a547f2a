"""The staff dashboard: flags, escalations and room controls, updated live over /ws/staff/."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from moderation.selectors import rooms_led_by
from rooms.models import MemberRole, Membership, Room, User


@login_required
def staff_dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    if not user.is_trained_staff:
        raise PermissionDenied("The staff page is for facilitators, mentors and on-call staff.")
    rooms = list(Room.objects.filter(id__in=rooms_led_by(user)).order_by("title"))
    members = (
        Membership.objects.filter(room__in=rooms, role=MemberRole.PARTICIPANT)
        .select_related("user")
        .order_by("user__display_name", "user__username")
    )
    by_room: dict[int, list[Membership]] = {}
    for membership in members:
        by_room.setdefault(membership.room_id, []).append(membership)
    return render(
        request,
        "moderation/staff.html",
        {
            "rooms": [(room, by_room.get(room.id, [])) for room in rooms],
            "is_oncall": user.is_oncall,
        },
    )
