"""seq allocation under real concurrency on PostgreSQL."""

from __future__ import annotations

import pytest
from django.db import connection

from chat.models import Message
from chat.services import message_post
from rooms.access import access_room
from rooms.models import MemberRole, Room
from tests.conftest import World, at_once, join, make_user

pytestmark = pytest.mark.django_db(transaction=True)

WRITERS = 8
EACH = 25


def test_concurrent_writers_never_share_or_skip_a_seq(world: World, settings: object) -> None:
    """Eight writers on their own connections post at once: seqs are 1..200, no repeats."""
    assert connection.vendor == "postgresql", "this proof needs PostgreSQL (set DATABASE_URL)"
    settings.CHAT_RATE_LIMIT = 0  # type: ignore[attr-defined]
    writers = [make_user(f"writer{n}") for n in range(WRITERS)]
    for writer in writers:
        join(writer, world.circle, MemberRole.PARTICIPANT)
    accesses = [access_room(user=writer, slug="evening-circle") for writer in writers]

    def write(user_index: int) -> None:
        for n in range(EACH):
            message_post(
                access=accesses[user_index], client_id=f"w{user_index}-{n}", body=f"hello {n}"
            )

    at_once(write, WRITERS)
    seqs = list(
        Message.objects.filter(room=world.circle).order_by("seq").values_list("seq", flat=True)
    )
    assert seqs == list(range(1, WRITERS * EACH + 1))
    assert Room.objects.get(pk=world.circle.pk).last_seq == WRITERS * EACH
    # Each writer's own messages kept their order.
    for i in range(WRITERS):
        mine = Message.objects.filter(client_id__startswith=f"w{i}-").order_by("seq")
        assert [m.body for m in mine] == [f"hello {n}" for n in range(EACH)]


def test_racing_duplicates_store_one_message(world: World) -> None:
    """The same client_id sent on two connections at once is stored once."""
    access = access_room(user=world.alex, slug="evening-circle")
    results: list[int] = []

    def write(_: int) -> None:
        results.append(message_post(access=access, client_id="dup", body="once").message.seq)

    at_once(write, 4, timeout=30)
    assert len(results) == 4
    assert len(set(results)) == 1
    assert Message.objects.filter(client_id="dup").count() == 1
