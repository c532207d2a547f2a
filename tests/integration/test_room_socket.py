"""The room socket through WebsocketCommunicator, against the real database and Redis."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from chat.models import Message
from rooms.models import Membership
from tests.conftest import World
from tests.sockets import (
    CONNECT_TIMEOUT,
    close_all,
    close_code,
    communicator,
    nothing_more,
    open_room,
    recv,
    recv_until,
    say,
    send,
)

pytestmark = pytest.mark.django_db(transaction=True)


async def test_members_exchange_messages_live(world: World, cookies: dict[str, str]) -> None:
    """The sender gets the ack with seq, then everyone gets message.new with that seq."""
    alex = await open_room("evening-circle", cookies["alex"])
    sam = await open_room("evening-circle", cookies["sam"])
    ack = await say(alex, "a-1", "Hello everyone, rough day but I'm here.")
    assert ack == {"type": "message.ack", "client_id": "a-1", "seq": 1, "status": "delivered"}
    for comm in (alex, sam):
        frame = await recv(comm)
        assert frame["type"] == "message.new"
        assert frame["seq"] == 1
        assert frame["client_id"] == "a-1"
        assert frame["author"] == {
            "username": "alex",
            "display_name": "Alex",
            "role": "participant",
        }
        assert frame["body"] == "Hello everyone, rough day but I'm here."
        assert frame["sent_at"].endswith("+00:00")
    await close_all(alex, sam)


async def test_facilitator_is_shown_with_their_role(world: World, cookies: dict[str, str]) -> None:
    fran = await open_room("evening-circle", cookies["fran"])
    sam = await open_room("evening-circle", cookies["sam"])
    await say(fran, "f-1", "Welcome, all.")
    frame = await recv(sam)
    assert frame["author"]["role"] == "facilitator"
    await close_all(fran, sam)


async def test_markup_never_reaches_another_client(world: World, cookies: dict[str, str]) -> None:
    alex = await open_room("evening-circle", cookies["alex"])
    sam = await open_room("evening-circle", cookies["sam"])
    await say(alex, "x-1", 'hi <script>alert("x")</script><img src=x onerror=alert(1)> &lt;b&gt;')
    frame = await recv(sam)
    assert "<script" not in frame["body"]
    assert "<img" not in frame["body"]
    assert "<b>" not in frame["body"]
    assert frame["body"].startswith("hi ")
    stored = await database_sync_to_async(Message.objects.get)(seq=frame["seq"])
    assert "<" not in stored.body
    await close_all(alex, sam)


async def test_resent_client_id_gets_the_same_ack_and_is_stored_once(
    world: World, cookies: dict[str, str]
) -> None:
    alex = await open_room("evening-circle", cookies["alex"])
    sam = await open_room("evening-circle", cookies["sam"])
    first = await say(alex, "same-id", "only once please")
    assert (await recv(sam))["seq"] == first["seq"]
    await recv(alex)  # alex's own message.new
    again = await say(alex, "same-id", "only once please")
    assert again == first
    assert await nothing_more(sam)
    assert await nothing_more(alex)
    assert await database_sync_to_async(Message.objects.filter(client_id="same-id").count)() == 1
    await close_all(alex, sam)


async def test_quick_messages_arrive_once_each_in_order(
    world: World, cookies: dict[str, str]
) -> None:
    alex = await open_room("evening-circle", cookies["alex"])
    sam = await open_room("evening-circle", cookies["sam"])
    for n in range(20):
        await send(alex, {"type": "message.send", "client_id": f"q-{n}", "body": f"quick {n}"})
    acks, news = [], []
    while len(acks) < 20 or len(news) < 20:
        frame = await recv(alex)
        (acks if frame["type"] == "message.ack" else news).append(frame)
    received = [await recv(sam) for _ in range(20)]
    assert [f["seq"] for f in received] == list(range(1, 21))
    assert [f["body"] for f in received] == [f"quick {n}" for n in range(20)]
    assert [f["seq"] for f in news] == list(range(1, 21))
    assert sorted(a["seq"] for a in acks) == list(range(1, 21))
    assert await nothing_more(sam)
    await close_all(alex, sam)


async def test_resume_replays_the_room_in_order(world: World, cookies: dict[str, str]) -> None:
    alex = await open_room("evening-circle", cookies["alex"])
    for n in range(5):
        await say(alex, f"r-{n}", f"message {n}")
    await close_all(alex)

    sam = await open_room("evening-circle", cookies["sam"])
    await send(sam, {"type": "resume", "after_seq": 0})
    frames = await recv_until(sam, "resume.done")
    assert [f["seq"] for f in frames[:-1]] == [1, 2, 3, 4, 5]
    assert frames[-1] == {"type": "resume.done", "last_seq": 5}

    await send(sam, {"type": "resume", "after_seq": 3})
    frames = await recv_until(sam, "resume.done")
    assert [f["seq"] for f in frames[:-1]] == [4, 5]
    await close_all(sam)


async def test_reconnect_with_after_seq_replays_before_live(
    world: World, cookies: dict[str, str]
) -> None:
    alex = await open_room("evening-circle", cookies["alex"])
    for n in range(3):
        await say(alex, f"b-{n}", f"before {n}")
    sam = await open_room("evening-circle", cookies["sam"], after_seq=1)
    await say(alex, "live", "after reconnect")
    frames = await recv_until(sam, "resume.done")
    assert [f["seq"] for f in frames[:-1]] == [2, 3]
    live = await recv(sam)
    assert live["seq"] == 4
    assert await nothing_more(sam)
    await close_all(alex, sam)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", "bad_json"),
        ('"a string"', "bad_frame"),
        ('{"type": "message.dance"}', "unknown_type"),
        ('{"client_id": "x"}', "missing_field"),
        ('{"type": "message.send", "body": "no id"}', "missing_field"),
        ('{"type": "message.send", "client_id": "x"}', "missing_field"),
        ('{"type": "message.send", "client_id": 5, "body": "x"}', "invalid_field"),
        ('{"type": "message.send", "client_id": "", "body": "x"}', "invalid_field"),
        ('{"type": "message.send", "client_id": "x", "body": "<b></b>"}', "empty_body"),
        ('{"type": "resume", "after_seq": -1}', "invalid_field"),
        ('{"type": "resume", "after_seq": true}', "invalid_field"),
    ],
)
async def test_bad_frames_get_an_error_and_change_nothing(
    world: World, cookies: dict[str, str], raw: str, code: str
) -> None:
    alex = await open_room("evening-circle", cookies["alex"])
    await send(alex, raw)
    frame = await recv(alex)
    assert frame["type"] == "error"
    assert frame["code"] == code
    assert frame["detail"]
    assert await database_sync_to_async(Message.objects.count)() == 0
    # The same connection still works.
    assert (await say(alex, "after-error", "still here"))["type"] == "message.ack"
    await close_all(alex)


async def test_a_huge_body_is_refused_and_the_socket_still_works(
    world: World, cookies: dict[str, str]
) -> None:
    alex = await open_room("evening-circle", cookies["alex"])
    frame = await say(alex, "huge", "x" * 100_000)
    assert frame["type"] == "error"
    assert frame["code"] == "too_long"
    assert frame["client_id"] == "huge"
    assert await database_sync_to_async(Message.objects.count)() == 0
    assert (await say(alex, "small", "a normal message"))["type"] == "message.ack"
    await close_all(alex)


async def test_refused_connections(world: World, cookies: dict[str, str]) -> None:
    """Non-member, anonymous, cross-site origin, someone else's mentoring room, no such room."""
    assert await close_code(communicator("/ws/rooms/evening-circle/", cookies["outsider"])) == 4403
    assert await close_code(communicator("/ws/rooms/evening-circle/")) == 4401
    assert await close_code(communicator("/ws/rooms/alex-morgan/", cookies["sam"])) == 4403
    assert await close_code(communicator("/ws/rooms/no-such-room/", cookies["sam"])) == 4403
    # The origin check refuses the handshake itself.
    for origin in ("http://evil.example", "http://127.0.0.1.evil.example", None):
        comm = communicator("/ws/rooms/evening-circle/", cookies["alex"], origin=origin)
        connected, _ = await comm.connect(timeout=CONNECT_TIMEOUT)
        assert not connected, origin
    # And members are let in: the mentee and mentor to their room.
    assert await close_code(communicator("/ws/rooms/alex-morgan/", cookies["alex"])) is None
    assert await close_code(communicator("/ws/rooms/alex-morgan/", cookies["morgan"])) is None


async def test_rate_limit_answers_rate_limited(
    world: World, cookies: dict[str, str], settings: object
) -> None:
    settings.CHAT_RATE_LIMIT = 3  # type: ignore[attr-defined]
    alex = await open_room("evening-circle", cookies["alex"])
    kinds = [(await say(alex, f"rl-{n}", f"n {n}")) for n in range(5)]
    assert [k["type"] for k in kinds] == ["message.ack"] * 3 + ["error"] * 2
    assert kinds[-1]["code"] == "rate_limited"
    assert kinds[-1]["client_id"] == "rl-4"
    assert await database_sync_to_async(Message.objects.count)() == 3
    await close_all(alex)


async def test_muted_and_locked(world: World, cookies: dict[str, str]) -> None:
    from datetime import timedelta

    from django.utils import timezone

    alex = await open_room("evening-circle", cookies["alex"])
    fran = await open_room("evening-circle", cookies["fran"])
    await database_sync_to_async(
        Membership.objects.filter(user=world.alex, room=world.circle).update
    )(muted_until=timezone.now() + timedelta(minutes=5))
    assert (await say(alex, "m-1", "hello?"))["code"] == "muted"
    await database_sync_to_async(
        Membership.objects.filter(user=world.alex, room=world.circle).update
    )(muted_until=None)
    world.circle.is_locked = True
    await database_sync_to_async(world.circle.save)()
    assert (await say(alex, "m-2", "hello?"))["code"] == "room_locked"
    # Facilitators may still speak in a locked room.
    assert (await say(fran, "f-1", "We'll reopen shortly."))["type"] == "message.ack"
    await close_all(alex, fran)
