"""The room hub: embedded and Redis transports, slow readers, lost publishes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.db import database_sync_to_async

from chat import events, hub
from chat.models import Message
from rooms.models import Room
from tests.conftest import World
from tests.sockets import close_all, nothing_more, open_room, recv, say

pytestmark = pytest.mark.django_db(transaction=True)


async def test_embedded_hub_delivers_in_process(
    world: World, cookies: dict[str, str], settings: Any
) -> None:
    """Without Redis the hub hands events over inside the process."""
    settings.REDIS_URL = ""
    alex = await open_room("evening-circle", cookies["alex"])
    sam = await open_room("evening-circle", cookies["sam"])
    assert hub.get_hub().redis_url == ""
    for n in range(5):
        await say(alex, f"e-{n}", f"embedded {n}")
    assert [(await recv(sam))["seq"] for _ in range(5)] == [1, 2, 3, 4, 5]
    await close_all(alex, sam)


async def test_a_slow_reader_is_closed_and_the_room_goes_on(
    world: World, cookies: dict[str, str], settings: Any
) -> None:
    """A socket whose queue overflows is closed with 4008; the others get everything."""
    settings.CHAT_SOCKET_QUEUE = 3
    alex = await open_room("evening-circle", cookies["alex"])
    sam = await open_room("evening-circle", cookies["sam"])
    room_id = world.circle.pk
    the_hub = hub.get_hub()
    sam_socket = next(s for s in the_hub.local[room_id] if s.access.user.username == "sam")
    # Hold sam's writer, as a reader that stopped reading would.
    async with sam_socket.send_lock:
        for n in range(1, 6):
            the_hub.dispatch(room_id, hub.encode_skip(n))
            await asyncio.sleep(0)  # as between two Redis messages: alex's writer drains
        await asyncio.sleep(0.1)
    closed = await sam.receive_output(timeout=3)
    assert closed == {"type": "websocket.close", "code": 4008}
    assert (await say(alex, "after", "still flowing"))["type"] == "message.ack"
    await close_all(alex, sam)


async def test_a_lost_publish_is_recovered_by_the_sync_loop(
    world: World, cookies: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A message stored but never published (as if Redis dropped it) still arrives."""
    monkeypatch.setattr(hub, "SYNC_SECONDS", 0.2)
    sam = await open_room("evening-circle", cookies["sam"])

    def store_without_publishing() -> None:
        from django.db import transaction

        from chat.services import next_seq

        # As message_post stores: seq and row in one transaction.
        with transaction.atomic():
            seq = next_seq(world.circle.pk)
            Message.objects.create(
                room=world.circle, author=world.alex, seq=seq, client_id="lost", body="lost"
            )

    await database_sync_to_async(store_without_publishing)()
    frame = await recv(sam, timeout=5)
    assert frame["type"] == "message.new"
    assert frame["client_id"] == "lost"
    assert await nothing_more(sam, 0.6)
    assert (
        await database_sync_to_async(Room.objects.values_list("last_seq", flat=True).get)(
            pk=world.circle.pk
        )
        == 1
    )
    await close_all(sam)


async def test_a_gap_is_read_once_by_the_hub_not_by_every_socket(
    world: World, cookies: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Publishes that crossed and a gap that did not close in time: the hub reads the
    missing seqs from the database once, and no socket reads them for itself. A message
    that is not every member's to see (held) becomes a skip, as its publish would have."""
    from chat.consumers import RoomConsumer
    from chat.models import MessageStatus
    from chat.services import message_post
    from rooms.access import access_room

    monkeypatch.setattr(hub, "REORDER_SECONDS", 0.05)
    alex = await open_room("evening-circle", cookies["alex"])
    sam = await open_room("evening-circle", cookies["sam"])
    socket_reads: list[tuple[int, int]] = []

    def read_by_a_socket(self: RoomConsumer, after_seq: int, up_to: int) -> list[Any]:
        socket_reads.append((after_seq, up_to))
        return []

    monkeypatch.setattr(RoomConsumer, "_frames_between", read_by_a_socket)

    def store_four() -> list[str]:
        access = access_room(user=world.alex, slug="evening-circle")
        results = [
            message_post(access=access, client_id=f"gap-{n}", body=f"gap {n}") for n in range(4)
        ]
        Message.objects.filter(seq=results[1].message.seq).update(status=MessageStatus.HELD)
        return [hub.encode_message(r.message.seq, events.encode(r.broadcast)) for r in results]

    wires = await database_sync_to_async(store_four)()
    the_hub = hub.get_hub()
    the_hub.dispatch(world.circle.pk, wires[0])
    the_hub.dispatch(world.circle.pk, wires[3])  # seqs 2 and 3 never published
    for comm in (alex, sam):
        got = [await recv(comm, timeout=3) for _ in range(3)]
        assert [(f["seq"], f["client_id"]) for f in got] == [
            (1, "gap-0"),
            (3, "gap-2"),
            (4, "gap-3"),
        ]
        # Read back from the database, the frame is the one its publish would have carried.
        assert got[1]["author"] == got[0]["author"]
        assert got[1].keys() == got[0].keys()
        assert await nothing_more(comm, 0.3)
    assert socket_reads == []
    await close_all(alex, sam)


async def test_one_process_publishes_in_order_and_a_waited_publish_is_sent(
    world: World, settings: Any
) -> None:
    """Publishes go out through one pipeline in the order they were made (so one process's
    events never cross); a waited publish returns once Redis has it."""
    from redis.asyncio import Redis

    assert settings.REDIS_URL, "the integration tests run against a real Redis"
    the_hub = hub.RoomHub(settings.REDIS_URL, f"order-{world.circle.pk}")
    listener = Redis.from_url(settings.REDIS_URL)
    pubsub = listener.pubsub()
    await pubsub.subscribe(the_hub.channel(7))
    assert (await pubsub.get_message(timeout=2))["type"] == "subscribe"
    for seq in range(1, 201):
        await the_hub.publish(7, hub.encode_skip(seq), wait=False)
    await the_hub.publish(7, hub.encode_skip(201))  # waits until its batch is sent
    got = []
    async with asyncio.timeout(10):
        while len(got) < 201:
            message = await pubsub.get_message(timeout=1)
            if message and message["type"] == "message":
                got.append(hub.decode(message["data"].decode()).seq)
    assert got == list(range(1, 202))
    await pubsub.aclose()
    await listener.aclose()
    if the_hub._redis is not None:
        await the_hub._redis.aclose()
