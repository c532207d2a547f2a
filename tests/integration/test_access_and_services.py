"""Access rules and the posting service, called without a socket."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from chat.models import Message, MessageStatus
from chat.selectors import visible_messages
from chat.services import PostRefused, message_post
from chat.throttle import Throttled
from rooms.access import AccessDenied, access_room, check_may_moderate, check_may_post, may_join
from rooms.models import MemberRole, Membership, Room, RoomKind
from rooms.services import membership_add, room_join
from tests.conftest import World, make_user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("who", "slug", "allowed"),
    [
        ("alex", "evening-circle", True),
        ("fran", "evening-circle", True),
        ("outsider", "evening-circle", False),
        ("casey", "evening-circle", False),  # on-call staff are let in by escalations only
        ("alex", "alex-morgan", True),
        ("morgan", "alex-morgan", True),
        ("sam", "alex-morgan", False),
        ("fran", "alex-morgan", False),
        ("alex", "no-such-room", False),
    ],
)
def test_who_may_open_a_room(world: World, who: str, slug: str, allowed: bool) -> None:
    user = getattr(world, who)
    if allowed:
        assert access_room(user=user, slug=slug).room.slug == slug
    else:
        with pytest.raises(AccessDenied) as denied:
            access_room(user=user, slug=slug)
        assert denied.value.code == "forbidden"


def test_anonymous_and_inactive_are_unauthenticated(world: World) -> None:
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(AccessDenied) as denied:
        access_room(user=AnonymousUser(), slug="evening-circle")
    assert denied.value.code == "unauthenticated"
    world.alex.is_active = False
    world.alex.save()
    with pytest.raises(AccessDenied) as denied:
        access_room(user=world.alex, slug="evening-circle")
    assert denied.value.code == "unauthenticated"


def test_moderation_is_for_the_rooms_leaders_only(world: World) -> None:
    assert check_may_moderate(access_room(user=world.fran, slug="evening-circle"))
    assert check_may_moderate(access_room(user=world.morgan, slug="alex-morgan"))
    for user, slug in ((world.alex, "evening-circle"), (world.alex, "alex-morgan")):
        with pytest.raises(AccessDenied):
            check_may_moderate(access_room(user=user, slug=slug))


def test_mutes_expire_and_bind_participants_only(world: World) -> None:
    Membership.objects.filter(room=world.circle).update(
        muted_until=timezone.now() + timedelta(minutes=1)
    )
    with pytest.raises(AccessDenied) as denied:
        check_may_post(access_room(user=world.alex, slug="evening-circle"))
    assert denied.value.code == "muted"
    check_may_post(access_room(user=world.fran, slug="evening-circle"))
    Membership.objects.filter(room=world.circle).update(
        muted_until=timezone.now() - timedelta(seconds=1)
    )
    check_may_post(access_room(user=world.alex, slug="evening-circle"))


def test_post_stores_before_it_returns_and_is_idempotent(world: World) -> None:
    access = access_room(user=world.alex, slug="evening-circle")
    first = message_post(access=access, client_id="c1", body="  hello <i>there</i> ")
    assert first.created
    assert first.ack == {"type": "message.ack", "client_id": "c1", "seq": 1, "status": "delivered"}
    assert first.broadcast is not None
    assert first.broadcast["body"] == "hello there"
    assert Message.objects.get(seq=1).body == "hello there"
    again = message_post(access=access, client_id="c1", body="something else entirely")
    assert not again.created
    assert again.broadcast is None
    assert again.ack == first.ack
    assert Message.objects.count() == 1


def test_client_ids_are_per_author(world: World) -> None:
    message_post(
        access=access_room(user=world.alex, slug="evening-circle"), client_id="1", body="a"
    )
    other = message_post(
        access=access_room(user=world.sam, slug="evening-circle"), client_id="1", body="b"
    )
    assert other.created
    assert other.message.seq == 2


def test_seq_is_per_room(world: World) -> None:
    message_post(
        access=access_room(user=world.alex, slug="evening-circle"), client_id="1", body="a"
    )
    in_mentoring = message_post(
        access=access_room(user=world.alex, slug="alex-morgan"), client_id="1", body="b"
    )
    assert in_mentoring.message.seq == 1


def test_refusals_store_nothing(world: World, settings: object) -> None:
    access = access_room(user=world.alex, slug="evening-circle")
    with pytest.raises(PostRefused) as refused:
        message_post(access=access, client_id="e", body="<p></p>")
    assert refused.value.code == "empty_body"
    world.circle.slow_mode_seconds = 30
    world.circle.save()
    message_post(access=access, client_id="s1", body="first")
    with pytest.raises(Throttled) as throttled:
        message_post(access=access, client_id="s2", body="second")
    assert throttled.value.code == "slow_mode"
    assert list(Message.objects.values_list("client_id", flat=True)) == ["s1"]


def test_held_messages_are_visible_to_their_author_only(world: World) -> None:
    access = access_room(user=world.alex, slug="evening-circle")
    message_post(access=access, client_id="1", body="shared")
    held = message_post(access=access, client_id="2", body="held one")
    Message.objects.filter(pk=held.message.pk).update(status=MessageStatus.HELD)
    mine = visible_messages(access=access, after_seq=0, up_to_seq=10, limit=10)
    theirs = visible_messages(
        access=access_room(user=world.sam, slug="evening-circle"),
        after_seq=0,
        up_to_seq=10,
        limit=10,
    )
    assert [m.seq for m in mine] == [1, 2]
    assert [m.seq for m in theirs] == [1]


def test_room_shapes_are_kept(world: World) -> None:
    with pytest.raises(ValidationError):
        membership_add(user=world.sam, room=world.mentoring, role=MemberRole.PARTICIPANT)
    with pytest.raises(ValidationError):
        membership_add(user=world.fran, room=world.mentoring, role=MemberRole.FACILITATOR)
    with pytest.raises(ValidationError):
        membership_add(user=world.morgan, room=world.circle, role=MemberRole.MENTOR)
    second = make_user("fran2")
    assert membership_add(user=second, room=world.circle, role=MemberRole.FACILITATOR).leads_room


def test_joining_a_group_records_consent(world: World) -> None:
    room = Room.objects.create(
        slug="mornings", title="Mornings", kind=RoomKind.GROUP, agreement="Be kind."
    )
    assert may_join(user=world.outsider, room=room)
    with pytest.raises(ValidationError):
        room_join(user=world.outsider, room=room, accept_agreement=False)
    assert not Membership.objects.filter(user=world.outsider, room=room).exists()
    membership = room_join(user=world.outsider, room=room, accept_agreement=True)
    assert membership.agreement_accepted_at is not None
    assert membership.agreement_version_accepted == room.agreement_version
    assert not may_join(user=world.outsider, room=room)
    with pytest.raises(AccessDenied):
        room_join(user=world.outsider, room=world.mentoring, accept_agreement=True)
