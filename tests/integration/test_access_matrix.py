"""Who may do what, over every frame type of both sockets, for every role, in both kinds of
room. Generated from tables; a frame type with no row in them fails the suite."""

from __future__ import annotations

from typing import Any

import pytest

from chat.protocol import ROOM_FRAMES
from chat.services import message_post
from moderation.models import Escalation, Flag
from moderation.protocol import STAFF_FRAMES
from rooms.access import access_room
from rooms.models import User
from tests.conftest import World, session_cookie
from tests.sockets import (
    CONNECT_TIMEOUT,
    close_all,
    close_code,
    communicator,
    open_room,
    recv,
    send,
)

pytestmark = pytest.mark.django_db(transaction=True)

IMMINENT = "I have the pills here, tonight is the night"

# Room socket: for each room, who may connect (the rest: 4403; anonymous: 4401).
ROOM_MEMBERS = {
    "evening-circle": {"alex", "sam", "jordan", "fran"},
    "alex-morgan": {"alex", "morgan"},
}
PEOPLE = ["anonymous", "alex", "sam", "fran", "morgan", "casey", "outsider", "admin"]

# Every room frame, and the answer a member gets.
ROOM_FRAME_ANSWERS: dict[str, tuple[dict[str, Any], str]] = {
    "message.send": ({"client_id": "m", "body": "hello"}, "message.ack"),
    "resume": ({"after_seq": 0}, "resume.done"),
    "message.report": ({"seq": 1, "reason": "worried"}, "report.received"),
}

# Every staff action on evening-circle, and who may do it there (room leader fran; on-call
# casey for escalations). Everyone else who may open the staff socket gets 'forbidden'.
STAFF_ACTION_RIGHTS: dict[str, tuple[dict[str, Any], set[str]]] = {
    "escalation.ack": ({"escalation_id": "E"}, {"fran", "casey"}),
    "escalation.resolve": ({"escalation_id": "E", "note": "spoke with them"}, {"fran", "casey"}),
    "flag.verdict": ({"flag_id": "F", "verdict": "confirmed"}, {"fran"}),
    "message.hide": ({"room": "evening-circle", "seq": 1}, {"fran"}),
    "message.release": ({"room": "evening-circle", "seq": 2}, {"fran"}),
    "member.mute": ({"room": "evening-circle", "username": "sam", "minutes": 5}, {"fran"}),
    "member.remove": ({"room": "evening-circle", "username": "sam"}, {"fran"}),
    "room.lock": ({"room": "evening-circle", "locked": True}, {"fran"}),
    "room.slow_mode": ({"room": "evening-circle", "seconds": 10}, {"fran"}),
    "checkin.open": ({"room": "evening-circle", "username": "sam"}, {"fran"}),
}
STAFF = {"fran", "morgan", "casey"}


def test_every_frame_type_has_a_row() -> None:
    assert set(ROOM_FRAME_ANSWERS) == set(ROOM_FRAMES)
    assert set(STAFF_ACTION_RIGHTS) == set(STAFF_FRAMES)


def _cookies(world: World) -> dict[str, str | None]:
    admin = User.objects.create_superuser("admin", password="pw-for-tests-only")
    people: dict[str, str | None] = {"anonymous": None, "admin": session_cookie(admin)}
    for name in PEOPLE:
        if name not in people:
            people[name] = session_cookie(getattr(world, name))
    return people


@pytest.fixture
def everyone(world: World) -> dict[str, str | None]:
    message_post(
        access=access_room(user=world.jordan, slug="evening-circle"), client_id="j", body="hi"
    )
    mentoring = "alex-morgan"
    message_post(access=access_room(user=world.morgan, slug=mentoring), client_id="m", body="hi")
    message_post(access=access_room(user=world.alex, slug=mentoring), client_id="a", body="hi")
    return _cookies(world)


@pytest.mark.parametrize("slug", sorted(ROOM_MEMBERS))
@pytest.mark.parametrize("person", PEOPLE)
async def test_room_socket(everyone: dict[str, str | None], slug: str, person: str) -> None:
    path = f"/ws/rooms/{slug}/"
    if person not in ROOM_MEMBERS[slug]:
        expected = 4401 if person == "anonymous" else 4403
        assert await close_code(communicator(path, everyone[person])) == expected
        return
    cookie = everyone[person]
    assert cookie is not None
    for kind, (fields, answer) in ROOM_FRAME_ANSWERS.items():
        ws = await open_room(slug, cookie)
        if kind == "message.report" and (slug, person) == ("alex-morgan", "morgan"):
            fields = {**fields, "seq": 2}  # one may only report someone else's message
        await send(ws, {"type": kind, **fields})
        while (frame := await recv(ws))["type"] == "message.new":
            pass
        assert frame["type"] == answer, (kind, frame)
        await close_all(ws)


@pytest.fixture
def crisis(world: World) -> dict[str, int]:
    message_post(
        access=access_room(user=world.alex, slug="evening-circle"), client_id="1", body="hello"
    )
    held = message_post(
        access=access_room(user=world.alex, slug="evening-circle"), client_id="2", body=IMMINENT
    )
    assert held.message.status == "held"
    escalation = Escalation.objects.get(flag__message=held.message)
    return {"E": escalation.pk, "F": Flag.objects.get(message=held.message).pk}


@pytest.mark.parametrize("action", sorted(STAFF_ACTION_RIGHTS))
@pytest.mark.parametrize("person", sorted(STAFF))
async def test_staff_actions(
    world: World, crisis: dict[str, int], cookies: dict[str, str], action: str, person: str
) -> None:
    fields, allowed = STAFF_ACTION_RIGHTS[action]
    frame = {
        "type": action,
        **{k: crisis.get(v, v) if isinstance(v, str) else v for k, v in fields.items()},
    }
    ws = communicator("/ws/staff/", cookies[person])
    assert (await ws.connect(timeout=CONNECT_TIMEOUT))[0]
    await send(ws, frame)
    while (answer := await recv(ws))["type"] not in {"action.done", "error"}:
        pass
    if person in allowed:
        assert answer["type"] == "action.done", answer
    else:
        assert answer["type"] == "error", answer
        assert answer["code"] == "forbidden"
    await close_all(ws)


@pytest.mark.parametrize("person", ["alex", "sam", "outsider", "admin", "anonymous"])
async def test_only_trained_staff_open_the_staff_socket(
    everyone: dict[str, str | None], person: str
) -> None:
    expected = 4401 if person == "anonymous" else 4403
    assert await close_code(communicator("/ws/staff/", everyone[person])) == expected


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/rooms/", {"alex", "sam", "fran", "morgan", "casey", "outsider", "admin"}),
        ("/rooms/evening-circle/", ROOM_MEMBERS["evening-circle"]),
        ("/rooms/alex-morgan/", ROOM_MEMBERS["alex-morgan"]),
        ("/admin/", {"admin"}),
    ],
)
def test_pages(everyone: dict[str, str | None], path: str, allowed: set[str]) -> None:
    from django.test import Client

    for person in PEOPLE:
        client = Client()
        cookie = everyone[person]
        if cookie:
            client.cookies["sessionid"] = cookie.split("=", 1)[1]
        status = client.get(path).status_code
        if person in allowed:
            assert status == 200, (person, path, status)
        else:
            assert status in {302, 403}, (person, path, status)
            if person != "anonymous" and path != "/admin/":
                assert status == 403, (person, path)
