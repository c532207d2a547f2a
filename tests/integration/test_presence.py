"""Who is in a room right now, as the room's leaders see it on their staff socket."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from chat.models import Presence, ServerProcess
from chat.presence import forget_dead_processes, room_presence
from tests.conftest import ServerProcess as Daphne
from tests.conftest import World
from tests.net import connect, wait_for
from tests.sockets import CONNECT_TIMEOUT, close_all, communicator, nothing_more, open_room, recv

pytestmark = pytest.mark.django_db(transaction=True)


async def open_staff(cookie: str) -> Any:
    comm = communicator("/ws/staff/", cookie)
    connected, _ = await comm.connect(timeout=CONNECT_TIMEOUT)
    assert connected
    return comm


async def news(comm: Any, timeout: float = 5) -> dict[str, Any]:
    """The next presence frame, skipping anything else."""
    while True:
        frame = await recv(comm, timeout, presence=True)
        if frame["type"] in {"room.presence", "presence.changed"}:
            return frame


async def test_a_leader_sees_who_comes_and_goes(world: World, cookies: dict[str, str]) -> None:
    fran = await open_staff(cookies["fran"])
    snapshot = await news(fran)
    assert snapshot == {"type": "room.presence", "room": "evening-circle", "present": []}

    alex = await open_room("evening-circle", cookies["alex"])
    arrived = await news(fran)
    assert arrived == {
        "type": "presence.changed",
        "room": "evening-circle",
        "person": {"username": "alex", "display_name": "Alex", "role": "participant"},
        "present": True,
    }

    # A second tab is no news; closing one of two is no news; closing the last one is.
    second = await open_room("evening-circle", cookies["alex"])
    await second.disconnect()
    assert await nothing_more(fran, wait=0.5)
    assert await fran.receive_nothing(timeout=0.5)
    await alex.disconnect()
    left = await news(fran)
    assert left["type"] == "presence.changed"
    assert left["person"]["username"] == "alex"
    assert left["present"] is False
    assert await database_sync_to_async(Presence.objects.count)() == 0
    await close_all(fran)


async def test_a_leader_connecting_later_is_told_who_is_already_there(
    world: World, cookies: dict[str, str]
) -> None:
    sam = await open_room("evening-circle", cookies["sam"])
    alex = await open_room("evening-circle", cookies["alex"])
    fran = await open_staff(cookies["fran"])
    snapshot = await news(fran)
    assert snapshot["type"] == "room.presence"
    assert [p["username"] for p in snapshot["present"]] == ["alex", "sam"]
    await close_all(fran, sam, alex)


async def test_presence_is_for_leaders_only(world: World, cookies: dict[str, str]) -> None:
    """Participants never hear who is connected; on-call staff who lead no room neither;
    a leader hears only of their own rooms."""
    alex = await open_room("evening-circle", cookies["alex"])
    casey = await open_staff(cookies["casey"])
    morgan = await open_staff(cookies["morgan"])
    assert (await news(morgan))["room"] == "alex-morgan"
    sam = await open_room("evening-circle", cookies["sam"])
    await sam.disconnect()
    assert await alex.receive_nothing(timeout=0.5)
    assert await casey.receive_nothing(timeout=0.3)
    assert await morgan.receive_nothing(timeout=0.3)
    await close_all(alex, casey, morgan)


def test_a_process_that_stopped_beating_stops_counting(world: World) -> None:
    long_ago = timezone.now() - timedelta(hours=1)
    dead = ServerProcess.objects.create(name="dead", seen_at=long_ago)
    alive = ServerProcess.objects.create(name="alive")
    Presence.objects.create(room=world.circle, user=world.alex, process=dead)
    Presence.objects.create(room=world.circle, user=world.sam, process=alive)
    (frame,) = room_presence([world.circle.pk])
    assert [p["username"] for p in frame["present"]] == ["sam"]
    assert forget_dead_processes() == 2  # the process and its row
    assert list(Presence.objects.values_list("user__username", flat=True)) == ["sam"]


@pytest.mark.slow
async def test_presence_crosses_processes(
    world: World, cookies: dict[str, str], start_daphne: Callable[..., Daphne]
) -> None:
    one, two = start_daphne(), start_daphne()
    fran = await connect(two, "/ws/staff/", cookies["fran"])
    assert (await wait_for(fran, "room.presence"))["present"] == []
    alex = await connect(one, "/ws/rooms/evening-circle/", cookies["alex"])
    arrived = await wait_for(fran, "presence.changed")
    assert (arrived["person"]["username"], arrived["present"]) == ("alex", True)
    # A killed process's sockets stop counting once it misses its beats.
    one.kill()
    frames = await wait_for(fran, "room.presence", timeout=60, present=[])
    assert frames["room"] == "evening-circle"
    await fran.close()
    await alex.close()
