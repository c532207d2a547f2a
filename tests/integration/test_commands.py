"""seed_demo, as CONTRACT section 1 describes it."""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from rooms.models import MemberRole, Membership, Role, Room, RoomKind, User

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_the_demo_world_idempotently() -> None:
    for _ in range(2):
        call_command("seed_demo", "--password", "demo-pw-123", "--crowd", "3", verbosity=0)
    assert User.objects.count() == 9
    roles = dict(User.objects.values_list("username", "role"))
    assert roles["fran"] == Role.FACILITATOR
    assert roles["morgan"] == Role.MENTOR
    assert roles["casey"] == Role.ONCALL
    assert {roles[n] for n in ("alex", "sam", "jordan", "peer001", "peer003")} == {Role.PARTICIPANT}
    for name in ("alex", "casey", "peer002"):
        assert authenticate(username=name, password="demo-pw-123") is not None
    circle = Room.objects.get(slug="evening-circle")
    assert circle.kind == RoomKind.GROUP
    members = dict(Membership.objects.filter(room=circle).values_list("user__username", "role"))
    assert members == {
        "fran": MemberRole.FACILITATOR,
        "alex": MemberRole.PARTICIPANT,
        "sam": MemberRole.PARTICIPANT,
        "jordan": MemberRole.PARTICIPANT,
        "peer001": MemberRole.PARTICIPANT,
        "peer002": MemberRole.PARTICIPANT,
        "peer003": MemberRole.PARTICIPANT,
    }
    mentoring = Room.objects.get(slug="alex-morgan")
    assert mentoring.kind == RoomKind.MENTORING
    assert dict(
        Membership.objects.filter(room=mentoring).values_list("user__username", "role")
    ) == {
        "morgan": MemberRole.MENTOR,
        "alex": MemberRole.PARTICIPANT,
    }
