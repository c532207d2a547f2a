"""Moderation in the live chat through WebsocketCommunicator, with the real detector."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

from chat.models import Message
from moderation.audit import AuditEvent
from moderation.defaults import seed_defaults
from moderation.models import Escalation, Flag
from rooms.models import Membership, Room
from tests.conftest import World
from tests.sockets import (
    CONNECT_TIMEOUT,
    close_all,
    close_code,
    communicator,
    nothing_more,
    open_room,
    recv,
    say,
    send,
)

pytestmark = pytest.mark.django_db(transaction=True)

IDIOM = "that quiz show was killing me"
HIGH = "i keep thinking everyone would be better off without me"
IMMINENT = "I have the pills here, tonight is the night"


@pytest.fixture(autouse=True)
def _crisis_lines(db: None) -> None:
    seed_defaults()


async def open_staff(cookie: str) -> Any:
    comm = communicator("/ws/staff/", cookie)
    connected, _ = await comm.connect(timeout=CONNECT_TIMEOUT)
    assert connected
    return comm


async def recv_type(comm: Any, kind: str, timeout: float = 5) -> dict[str, Any]:
    while True:
        frame = await recv(comm, timeout)
        if frame["type"] == kind:
            return frame


async def test_participants_and_anonymous_cannot_open_the_staff_socket(
    world: World, cookies: dict[str, str]
) -> None:
    assert await close_code(communicator("/ws/staff/", cookies["alex"])) == 4403
    assert await close_code(communicator("/ws/staff/")) == 4401
    assert await close_code(communicator("/ws/staff/", cookies["fran"])) is None


async def test_an_idiom_is_delivered_and_flags_nothing(
    world: World, cookies: dict[str, str]
) -> None:
    fran = await open_staff(cookies["fran"])
    alex = await open_room("evening-circle", cookies["alex"])
    sam = await open_room("evening-circle", cookies["sam"])
    assert (await say(alex, "i-1", IDIOM))["status"] == "delivered"
    assert (await recv(sam))["body"] == IDIOM
    assert await nothing_more(fran)
    assert await database_sync_to_async(Flag.objects.count)() == 0
    await close_all(fran, alex, sam)


async def test_an_imminent_message_is_held_and_escalated(
    world: World, cookies: dict[str, str]
) -> None:
    casey = await open_staff(cookies["casey"])
    fran = await open_staff(cookies["fran"])
    alex = await open_room("evening-circle", cookies["alex"])
    sam = await open_room("evening-circle", cookies["sam"])

    await send(alex, {"type": "message.send", "client_id": "m-1", "body": IMMINENT})
    ack = await recv(alex)
    assert ack == {"type": "message.ack", "client_id": "m-1", "seq": 1, "status": "held"}
    resources = await recv(alex)
    assert resources["type"] == "support.resources"
    assert resources["level"] == "imminent"
    assert resources["held"] is True
    assert any("988" in line["contact"] for line in resources["lines"])
    held = await recv(alex)
    assert held["type"] == "message.held"
    assert held["client_id"] == "m-1"
    assert "facilitator" in held["detail"]
    # Not shown to the group, nor echoed back as message.new.
    assert await nothing_more(sam)
    assert await nothing_more(alex)

    escalation = await recv_type(casey, "escalation.new")
    assert escalation["level"] == "imminent"
    assert escalation["room"] == "evening-circle"
    assert escalation["seq"] == 1
    assert escalation["excerpt"] == IMMINENT
    assert escalation["playbooks"]
    flag = await recv_type(fran, "flag.new")
    assert flag["level"] == "imminent"
    assert flag["held"] is True
    assert flag["evidence"]
    assert flag["oncall_online"] is True

    # Acknowledge, then resolve: both broadcast, both audited.
    await send(casey, {"type": "escalation.ack", "escalation_id": escalation["escalation_id"]})
    assert (await recv_type(casey, "action.done"))["action"] == "escalation.ack"
    updated = await recv_type(casey, "escalation.updated")
    assert updated["state"] == "acknowledged"
    assert updated["acknowledged_by"] == "casey"
    assert (await recv_type(fran, "escalation.updated"))["state"] == "acknowledged"
    await send(
        casey,
        {
            "type": "escalation.resolve",
            "escalation_id": escalation["escalation_id"],
            "note": "Called; safe now.",
        },
    )
    assert (await recv_type(casey, "escalation.updated"))["state"] == "resolved"
    actions = await database_sync_to_async(
        lambda: list(AuditEvent.objects.values_list("action", flat=True))
    )()
    assert actions == ["escalation.opened", "escalation.acknowledged", "escalation.resolved"]
    await close_all(casey, fran, alex, sam)


async def test_a_high_message_is_delivered_flagged_and_answered_with_resources(
    world: World, cookies: dict[str, str]
) -> None:
    fran = await open_staff(cookies["fran"])
    casey = await open_staff(cookies["casey"])
    alex = await open_room("evening-circle", cookies["alex"])
    sam = await open_room("evening-circle", cookies["sam"])
    await send(alex, {"type": "message.send", "client_id": "h-1", "body": HIGH})
    assert (await recv(alex))["status"] == "delivered"
    assert (await recv(alex))["type"] == "support.resources"
    assert (await recv(sam))["body"] == HIGH
    flag = await recv_type(fran, "flag.new")
    assert flag["level"] == "high"
    assert flag["held"] is False
    assert await nothing_more(casey)  # high is not an escalation
    await close_all(fran, casey, alex, sam)


async def test_an_escalation_waits_for_the_first_oncall_to_connect(
    world: World, cookies: dict[str, str]
) -> None:
    fran = await open_staff(cookies["fran"])
    alex = await open_room("evening-circle", cookies["alex"])
    await say(alex, "m-1", IMMINENT)
    unavailable = await recv_type(fran, "oncall.unavailable")
    assert unavailable["room"] == "evening-circle"
    flag = await recv_type(fran, "flag.new")
    assert flag["oncall_online"] is False
    casey = await open_staff(cookies["casey"])
    pending = await recv_type(casey, "escalation.new")
    assert pending["seq"] == 1
    assert pending["state"] == "open"
    await close_all(fran, alex, casey)


async def test_a_peer_report_reaches_the_facilitator_and_the_reporter_hears_back(
    world: World, cookies: dict[str, str]
) -> None:
    fran = await open_staff(cookies["fran"])
    alex = await open_room("evening-circle", cookies["alex"])
    sam = await open_room("evening-circle", cookies["sam"])
    await say(alex, "p-1", "a message sam is worried about")
    await recv(sam)
    await send(sam, {"type": "message.report", "seq": 1, "reason": "I'm worried about them"})
    received = await recv_type(sam, "report.received")
    flag = await recv_type(fran, "flag.new")
    assert flag["source"] == "peer_report"
    assert flag["reason"] == "I'm worried about them"
    assert flag["flag_id"] == received["flag_id"]
    await send(fran, {"type": "flag.verdict", "flag_id": flag["flag_id"], "verdict": "confirmed"})
    handled = await recv_type(sam, "report.handled")
    assert handled["flag_id"] == flag["flag_id"]
    # Reporting a message that is not there is a clear error.
    await send(sam, {"type": "message.report", "seq": 99})
    assert (await recv_type(sam, "error"))["code"] == "not_found"
    await close_all(fran, alex, sam)


async def test_hide_release_mute_lock_slow_mode_remove_checkin(
    world: World, cookies: dict[str, str]
) -> None:
    fran = await open_staff(cookies["fran"])
    alex = await open_room("evening-circle", cookies["alex"])
    sam = await open_room("evening-circle", cookies["sam"])

    await say(alex, "x-1", "an ordinary message")
    await recv(sam)
    await recv(alex)
    await send(fran, {"type": "message.hide", "room": "evening-circle", "seq": 1})
    assert await recv_type(sam, "message.hidden") == {"type": "message.hidden", "seq": 1}
    assert (await recv_type(alex, "message.hidden"))["seq"] == 1

    # A held message, released, arrives at the end with a new seq.
    await say(alex, "x-2", IMMINENT)
    await send(fran, {"type": "message.release", "room": "evening-circle", "seq": 2})
    released = await recv_type(sam, "message.new")
    assert released["body"] == IMMINENT
    assert released["seq"] == 3

    await send(
        fran, {"type": "member.mute", "room": "evening-circle", "username": "alex", "minutes": 5}
    )
    assert (await recv_type(alex, "member.muted"))["until"]
    assert (await say(alex, "x-3", "hello?"))["code"] == "muted"
    await send(
        fran, {"type": "member.mute", "room": "evening-circle", "username": "alex", "minutes": 0}
    )
    await recv_type(alex, "member.muted")

    await send(fran, {"type": "room.lock", "room": "evening-circle", "locked": True})
    assert (await recv_type(sam, "room.updated"))["locked"] is True
    assert (await say(sam, "s-1", "hi"))["code"] == "room_locked"
    await send(fran, {"type": "room.lock", "room": "evening-circle", "locked": False})
    await recv_type(sam, "room.updated")
    await send(fran, {"type": "room.slow_mode", "room": "evening-circle", "seconds": 30})
    assert (await recv_type(sam, "room.updated"))["slow_mode_seconds"] == 30

    await send(fran, {"type": "checkin.open", "room": "evening-circle", "username": "sam"})
    invite = await recv_type(sam, "checkin.opened")
    room = await database_sync_to_async(Room.objects.get)(slug=invite["room"])
    assert room.kind == "checkin"
    members = await database_sync_to_async(
        lambda: set(Membership.objects.filter(room=room).values_list("user__username", flat=True))
    )()
    assert members == {"fran", "sam"}

    await send(fran, {"type": "member.remove", "room": "evening-circle", "username": "alex"})
    assert (await recv_type(alex, "member.removed"))["room"] == "evening-circle"
    closed = await alex.receive_output(timeout=3)
    assert closed == {"type": "websocket.close", "code": 4403}
    assert not await database_sync_to_async(
        Membership.objects.filter(user=world.alex, room=world.circle).exists
    )()
    assert await close_code(communicator("/ws/rooms/evening-circle/", cookies["alex"])) == 4403

    actions = await database_sync_to_async(
        lambda: list(AuditEvent.objects.values_list("action", flat=True))
    )()
    for action in (
        "message.hidden",
        "message.released",
        "member.muted",
        "member.unmuted",
        "room.locked",
        "room.unlocked",
        "room.slow_mode",
        "checkin.opened",
        "member.removed",
    ):
        assert action in actions
    await close_all(fran, sam)


async def test_tools_are_for_the_rooms_own_leaders(world: World, cookies: dict[str, str]) -> None:
    morgan = await open_staff(cookies["morgan"])  # mentors alex-morgan, not evening-circle
    await send(morgan, {"type": "message.hide", "room": "evening-circle", "seq": 1})
    error = await recv_type(morgan, "error")
    assert error["code"] == "forbidden"
    await send(morgan, {"type": "room.lock", "room": "alex-morgan", "locked": "yes"})
    assert (await recv_type(morgan, "error"))["code"] == "invalid_field"
    await send(morgan, {"type": "room.lock", "room": "alex-morgan", "locked": True})
    assert (await recv_type(morgan, "action.done"))["action"] == "room.lock"
    await send(morgan, "not json")
    assert (await recv_type(morgan, "error"))["code"] == "bad_json"
    locked = Room.objects.filter(slug="evening-circle", is_locked=True).exists
    assert not await database_sync_to_async(locked)()
    await close_all(morgan)


async def test_a_failing_detector_holds_and_escalates(
    world: World, cookies: dict[str, str], settings: Any
) -> None:
    """Fail safe: if screening raises, the message is held and escalated, not delivered."""
    settings.MODERATION_DETECTOR = "tests.detectors.broken_detector"
    casey = await open_staff(cookies["casey"])
    alex = await open_room("evening-circle", cookies["alex"])
    sam = await open_room("evening-circle", cookies["sam"])
    assert (await say(alex, "f-1", "an ordinary sentence"))["status"] == "held"
    assert await nothing_more(sam)
    escalation = await recv_type(casey, "escalation.new")
    assert escalation["evidence"][0]["rule"] == "detector.failed"
    assert await database_sync_to_async(Escalation.objects.count)() == 1
    assert (await database_sync_to_async(Message.objects.get)(client_id="f-1")).status == "held"
    await close_all(casey, alex, sam)


async def test_an_escalation_brings_the_room_context_oncall_staff_need(
    world: World, cookies: dict[str, str]
) -> None:
    """On-call staff are not in the room: the escalation says what kind of room it is, who
    leads it, and what the person wrote just before; never other members' words."""
    casey = await open_staff(cookies["casey"])
    alex = await open_room("evening-circle", cookies["alex"])
    sam = await open_room("evening-circle", cookies["sam"])
    for n, body in enumerate(["rough day again", "nobody answers my texts", "so tired of it"]):
        assert (await say(alex, f"c-{n}", body))["status"] == "delivered"
    assert (await say(sam, "s-1", "sam's own words"))["status"] == "delivered"
    assert (await say(alex, "c-0x", "first of the day, older"))["status"] == "delivered"
    await send(alex, {"type": "message.send", "client_id": "c-9", "body": IMMINENT})

    context = (await recv_type(casey, "escalation.new"))["context"]
    assert context["room_kind"] == "group"
    assert context["leaders"] == [{"display_name": "Fran", "role": "facilitator"}]
    assert [m["excerpt"] for m in context["earlier"]] == [
        "nobody answers my texts",
        "so tired of it",
        "first of the day, older",
    ]
    assert all(m["seq"] < 6 for m in context["earlier"])
    await close_all(casey, alex, sam)
