"""The room hub: embedded and Redis transports, slow readers, lost publishes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.db import database_sync_to_async

from chat import hub
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
