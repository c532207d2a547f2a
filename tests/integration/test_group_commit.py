"""Group commit: a batch of one room's messages, stored in one transaction."""

from __future__ import annotations

import asyncio

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat.models import Message, MessageStatus
from chat.services import PostResult, message_post, message_post_batch
from moderation.models import Escalation
from rooms.access import AccessDenied, access_room
from rooms.models import Membership
from tests.conftest import World
from tests.sockets import close_all, open_room, recv, send

pytestmark = pytest.mark.django_db


def test_a_batch_gives_each_post_what_message_post_would(world: World) -> None:
    alex = access_room(user=world.alex, slug="evening-circle")
    sam = access_room(user=world.sam, slug="evening-circle")
    message_post(access=alex, client_id="old", body="sent before")
    Membership.objects.filter(user=world.jordan).update(muted_until="2999-01-01T00:00:00Z")
    jordan = access_room(user=world.jordan, slug="evening-circle")
    results = message_post_batch(
        [
            (alex, "a1", "first <b>one</b>"),
            (jordan, "j1", "muted, refused"),
            (sam, "s1", "second"),
            (alex, "a1", "same client_id again"),
            (alex, "old", "resent from before"),
            (sam, "s2", "<i></i>"),
        ]
    )
    first, muted, second, duplicate, resent, empty = results
    assert isinstance(first, PostResult)
    assert first.created
    assert first.message.seq == 2
    assert first.broadcast is not None
    assert first.broadcast["body"] == "first one"
    assert isinstance(muted, AccessDenied)
    assert muted.code == "muted"
    assert isinstance(second, PostResult)
    assert second.message.seq == 3
    assert isinstance(duplicate, PostResult)
    assert not duplicate.created
    assert duplicate.ack == first.ack
    assert isinstance(resent, PostResult)
    assert not resent.created
    assert resent.message.seq == 1
    assert not isinstance(empty, PostResult)
    assert empty.code == "empty_body"
    assert list(Message.objects.order_by("seq").values_list("seq", "client_id")) == [
        (1, "old"),
        (2, "a1"),
        (3, "s1"),
    ]


def test_one_commit_for_the_whole_batch(world: World) -> None:
    accesses = [
        access_room(user=u, slug="evening-circle") for u in (world.alex, world.sam, world.jordan)
    ]
    with CaptureQueriesContext(connection) as queries:
        message_post_batch([(a, f"c{n}", f"hello {n}") for n, a in enumerate(accesses * 3)])
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    assert statements.count("UPDATE") == 1  # one seq range
    assert statements.count("INSERT") == 1  # one insert of nine rows
    assert list(Message.objects.order_by("seq").values_list("seq", flat=True)) == list(range(1, 10))


def test_earlier_messages_of_the_same_batch_count_as_recent(world: World) -> None:
    """The detector reads the author's messages ahead in the batch, as if already stored."""
    alex = access_room(user=world.alex, slug="evening-circle")
    results = message_post_batch(
        [(alex, "1", "i want to die"), (alex, "2", "i have them all counted out")]
    )
    second = results[1]
    assert isinstance(second, PostResult)
    assert second.message.status == MessageStatus.HELD
    assert Escalation.objects.filter(flag__message=second.message).exists()


@pytest.mark.django_db(transaction=True)
async def test_a_burst_from_several_sockets_is_stored_and_delivered_in_order(
    world: World, cookies: dict[str, str]
) -> None:
    senders = [await open_room("evening-circle", cookies[n]) for n in ("alex", "sam", "jordan")]
    listener = await open_room("evening-circle", cookies["fran"])
    await asyncio.gather(
        *(
            send(ws, {"type": "message.send", "client_id": f"{i}-{n}", "body": f"burst {i} {n}"})
            for n in range(10)
            for i, ws in enumerate(senders)
        )
    )
    seqs = [(await recv(listener))["seq"] for _ in range(30)]
    assert seqs == list(range(1, 31))
    await close_all(*senders, listener)


def test_each_authors_recent_messages_are_read_whoever_else_talks(world: World) -> None:
    alex = access_room(user=world.alex, slug="evening-circle")
    sam = access_room(user=world.sam, slug="evening-circle")
    message_post(access=alex, client_id="a", body="i want to die")
    for n in range(30):
        message_post(access=sam, client_id=f"s{n}", body=f"chatting away {n}")
    results = message_post_batch(
        [(sam, "s-last", "anyone else up?"), (alex, "b", "i have them all counted out")]
    )
    assert isinstance(results[1], PostResult)
    assert results[1].message.status == MessageStatus.HELD


def test_a_batch_takes_three_reads_whatever_its_size(world: World) -> None:
    accesses = [access_room(user=u, slug="evening-circle") for u in (world.alex, world.sam)]
    with CaptureQueriesContext(connection) as queries:
        message_post_batch([(a, f"r{n}", f"hello {n}") for n, a in enumerate(accesses * 10)])
    selects = [
        # (a compound query of per-author parts starts with a parenthesis)
        q
        for q in queries.captured_queries
        if q["sql"].lstrip(" (").upper().startswith("SELECT")
    ]
    assert len(selects) == 3


def test_each_authors_last_messages_are_read_for_screening_oldest_first(world: World) -> None:
    """The detector's `recent`: each author's last MODERATION_RECENT_MESSAGES in the room,
    oldest first, however many they wrote (one author's many do not crowd out another's)."""
    from chat.services import _load_context

    alex, sam = (access_room(user=u, slug="evening-circle") for u in (world.alex, world.sam))
    message_post_batch([(alex, f"a{n}", f"alex {n}") for n in range(40)])
    message_post_batch([(sam, "s0", "sam 0"), (sam, "s1", "sam 1")])
    context = _load_context(world.circle, [(alex, "x", "next"), (sam, "y", "next")])
    assert context.recent == {
        world.alex.pk: ["alex 37", "alex 38", "alex 39"],
        world.sam.pk: ["sam 0", "sam 1"],
    }
