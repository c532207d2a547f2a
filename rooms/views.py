"""Pages for participants: the room list, joining a group, the room itself."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from chat.selectors import room_last_seq
from rooms import selectors, services
from rooms.access import AccessDenied, access_room
from rooms.models import Membership, Room, RoomKind


@login_required
def room_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    return render(
        request,
        "rooms/room_list.html",
        {
            "memberships": selectors.memberships_of(user=user),  # type: ignore[arg-type]
            "open_groups": selectors.groups_open_to(user=user),  # type: ignore[arg-type]
        },
    )


def needs_consent(room: Room, membership: Membership | None) -> bool:
    """A participant of a group whose agreement changed since they accepted it is asked again."""
    if membership is None or membership.leads_room or room.kind != RoomKind.GROUP:
        return False
    if not room.agreement.strip():
        return False
    accepted = membership.agreement_version_accepted
    return accepted is None or accepted < room.agreement_version


@login_required
def room_detail(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        access = access_room(user=request.user, slug=slug)
    except AccessDenied as denied:
        raise PermissionDenied(denied.detail) from None
    if needs_consent(access.room, access.membership):
        return redirect("rooms:join", slug=access.room.slug)
    return render(
        request,
        "rooms/room_detail.html",
        {
            "room": access.room,
            "membership": access.membership,
            "last_seq": room_last_seq(room=access.room),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def room_join_view(request: HttpRequest, slug: str) -> HttpResponse:
    room = get_object_or_404(Room, slug=slug)
    membership = Membership.objects.filter(user_id=request.user.pk or 0, room=room).first()
    if membership is not None and not needs_consent(room, membership):
        return redirect("rooms:detail", slug=room.slug)
    error = None
    if request.method == "POST":
        try:
            services.room_join(
                user=request.user,  # type: ignore[arg-type]
                room=room,
                accept_agreement=request.POST.get("accept") == "yes",
            )
        except AccessDenied as denied:
            raise PermissionDenied(denied.detail) from None
        except ValidationError as invalid:
            error = " ".join(invalid.messages)
        else:
            return redirect("rooms:detail", slug=room.slug)
    return render(
        request,
        "rooms/room_join.html",
        {"room": room, "error": error, "again": membership is not None},
    )
