"""Create the demo world, idempotently (CONTRACT section 1)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from moderation.defaults import seed_defaults
from rooms.models import MemberRole, Membership, Role, Room, RoomKind, User
from rooms.services import agreement_accept, membership_add

PEOPLE = [
    ("alex", "Alex", Role.PARTICIPANT),
    ("sam", "Sam", Role.PARTICIPANT),
    ("jordan", "Jordan", Role.PARTICIPANT),
    ("fran", "Fran (facilitator)", Role.FACILITATOR),
    ("morgan", "Morgan (peer mentor)", Role.MENTOR),
    ("casey", "Casey (on call)", Role.ONCALL),
]

EVENING_AGREEMENT = """\
What is said here stays here.
Speak from your own experience; listen without fixing.
Be kind, to others and to yourself.
No descriptions of methods of self-harm or suicide: say how you feel, and we will listen.
If you are in danger right now, call or text 988 (US) or your local emergency number.
"""


class Command(BaseCommand):
    help = "Create the demo users and rooms (safe to run again)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--password", required=True, help="password for every demo user")
        parser.add_argument("--crowd", type=int, default=0, help="also create N participants")

    def handle(self, *args: Any, **options: Any) -> None:
        password: str = options["password"]
        crowd: int = options["crowd"]
        if not password:
            raise CommandError("--password must not be empty")
        if crowd < 0 or crowd > 100_000:
            raise CommandError("--crowd must be between 0 and 100000")
        # Hashing is slow by design; one hash serves every demo account (and a crowd of
        # hundreds seeds in seconds, not minutes).
        password_hash = make_password(password)
        with transaction.atomic():
            seed_defaults()
            users = {
                name: self._user(name, shown, role, password_hash) for name, shown, role in PEOPLE
            }
            circle = self._room(
                "evening-circle",
                title="Evening circle",
                kind=RoomKind.GROUP,
                topic="A peer-led check-in for the end of the day",
                description="A gentle group for anyone in recovery to share how the day went.",
                agreement=EVENING_AGREEMENT,
            )
            mentoring = self._room(
                "alex-morgan",
                title="Alex and Morgan",
                kind=RoomKind.MENTORING,
                topic="One-on-one mentoring",
                description="A private space for Alex and their peer mentor.",
                agreement="",
            )
            self._join(users["fran"], circle, MemberRole.FACILITATOR)
            for name in ("alex", "sam", "jordan"):
                self._join(users[name], circle, MemberRole.PARTICIPANT)
            self._join(users["morgan"], mentoring, MemberRole.MENTOR)
            self._join(users["alex"], mentoring, MemberRole.PARTICIPANT)
            for number in range(1, crowd + 1):
                name = f"peer{number:03d}"
                peer = self._user(name, f"Peer {number}", Role.PARTICIPANT, password_hash)
                self._join(peer, circle, MemberRole.PARTICIPANT)
        self.stdout.write(
            f"Demo ready: users {', '.join(n for n, _, _ in PEOPLE)}"
            + (f" and {crowd} peers" if crowd else "")
            + "; rooms evening-circle, alex-morgan."
        )

    def _user(self, username: str, display_name: str, role: Role, password_hash: str) -> User:
        user, _ = User.objects.update_or_create(
            username=username,
            defaults={"display_name": display_name, "role": role, "password": password_hash},
        )
        return user

    def _room(self, slug: str, **fields: Any) -> Room:
        room, _ = Room.objects.get_or_create(slug=slug, defaults=fields)
        return room

    def _join(self, user: User, room: Room, role: MemberRole) -> Membership:
        membership = membership_add(user=user, room=room, role=role)
        if membership.agreement_accepted_at is None:
            agreement_accept(membership=membership)
        return membership
