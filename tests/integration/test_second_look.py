"""The second look (moderation.second_look): every stored message screened again by the
thorough detector, off the message path, on the real database with the real detector."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from chat.events import Outbox
from chat.models import Message, MessageStatus
from chat.services import message_post
from moderation.defaults import seed_defaults
from moderation.detection import screen, screen_thorough, semantic
from moderation.models import Escalation, Flag, FlagSource
from moderation.second_look import second_look_batch
from rooms.access import access_room
from tests.conftest import ServerProcess, World, at_once
from tests.net import connect, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

# Indirect imminent-risk messages of the kinds the rules miss and the semantic stage was
# trained to catch. The test takes the first that is so today (a later rule may catch one).
INDIRECT = [
    "i love you all. i can't do another day of this and tonight i'm not going to",
    "sorry for being such a mess all these years. i'm finally letting you all off the hook tonight",
    "he gets out of prison on tuesday and i'll be at the gate to settle it for good",
    # Caught by the rules since round 32; kept in case the order above changes.
    "there's nothing left to sort. i'm ready and it's tonight",
]


@pytest.fixture(autouse=True)
def _crisis_lines(db: None) -> None:
    seed_defaults()


@pytest.fixture(scope="module")
def missed_by_the_rules() -> str:
    if not semantic.available():
        pytest.fail("the semantic stage is not installed: bin/check installs it (bin/_venv.sh)")
    for text in INDIRECT:
        if screen(text).level.value in ("none", "watch") and screen_thorough(text).level.value in (
            "high",
            "imminent",
        ):
            return text
    pytest.fail("no example left that the rules miss and the second stage catches: add one")


def _post(world: World, user: str, client_id: str, body: str) -> Message:
    access = access_room(user=getattr(world, user), slug="evening-circle")
    return message_post(access=access, client_id=client_id, body=body).message


def _frames(outbox: Outbox) -> list[tuple[str, str]]:
    return [(group, json.loads(event["text"])["type"]) for group, event in outbox.groups]


def test_the_second_look_flags_what_the_rules_missed(
    world: World, missed_by_the_rules: str
) -> None:
    message = _post(world, "alex", "m-1", missed_by_the_rules)
    assert message.status == MessageStatus.DELIVERED
    assert not Flag.objects.exists()  # the first look let it through

    taken, outbox = second_look_batch()
    assert taken == 1
    flag = Flag.objects.get()
    assert flag.source == FlagSource.SECOND_LOOK
    assert flag.level in ("high", "imminent")
    assert any(e["rule"].startswith("semantic.") for e in flag.evidence)
    assert not flag.held
    frames = _frames(outbox)
    room = world.circle.pk
    assert (f"staff.room.{room}", "flag.new") in frames
    # The person gets the crisis lines on their own sockets in the room, nobody else.
    controls = [event for group, event in outbox.groups if group == f"room.{room}"]
    assert [c["user_id"] for c in controls] == [world.alex.pk]
    assert '"support.resources"' in controls[0]["text"]
    if flag.level == "imminent":
        assert Escalation.objects.filter(flag=flag).exists()
        assert ("staff.oncall", "escalation.new") in frames
    # Never held or hidden after the fact, and never looked at twice.
    message.refresh_from_db()
    assert (message.status, message.second_look_pending) == (MessageStatus.DELIVERED, False)
    assert second_look_batch() == (0, Outbox())
    assert Flag.objects.count() == 1


def test_the_second_look_adds_nothing_to_what_the_first_caught_or_cleared(
    world: World,
) -> None:
    """An imminent message the rules already escalated, and an ordinary one, get no
    second flag; both are marked done."""
    _post(world, "alex", "m-1", "I have the pills here, tonight is the night")
    _post(world, "sam", "m-2", "that quiz show was killing me")
    assert Flag.objects.count() == 1
    taken, outbox = second_look_batch()
    assert taken == 2
    assert outbox == Outbox()
    assert Flag.objects.count() == 1
    assert not Message.objects.filter(second_look_pending=True).exists()


def test_old_messages_are_marked_done_unseen(world: World, missed_by_the_rules: str) -> None:
    """After an outage the backlog is not paged: a late flag on an old conversation helps
    nobody."""
    message = _post(world, "alex", "m-1", missed_by_the_rules)
    Message.objects.filter(pk=message.pk).update(sent_at=timezone.now() - timedelta(hours=2))
    assert second_look_batch()[0] == 1
    assert not Flag.objects.exists()
    assert not Message.objects.filter(second_look_pending=True).exists()


def test_two_workers_never_look_at_one_message_twice(
    world: World, missed_by_the_rules: str
) -> None:
    for n in range(6):
        _post(world, "alex" if n % 2 else "sam", f"m-{n}", f"{missed_by_the_rules} ({n})")
    taken: list[int] = []

    def worker(_: int) -> None:
        while (count := second_look_batch(limit=2)[0]) > 0:
            taken.append(count)

    at_once(worker, 2)
    assert sum(taken) == 6
    flagged = Flag.objects.filter(source=FlagSource.SECOND_LOOK)
    assert sorted(flagged.values_list("message__client_id", flat=True)) == [
        f"m-{n}" for n in range(6)
    ]


@pytest.mark.slow
async def test_through_the_worker_staff_and_the_person_hear_within_seconds(
    world: World,
    cookies: dict[str, str],
    missed_by_the_rules: str,
    start_daphne: Callable[..., ServerProcess],
    start_worker: Callable[..., subprocess.Popen[bytes]],
) -> None:
    server = start_daphne()
    start_worker()
    fran = await connect(server, "/ws/staff/", cookies["fran"])
    alex = await connect(server, "/ws/rooms/evening-circle/", cookies["alex"])
    sam = await connect(server, "/ws/rooms/evening-circle/", cookies["sam"])
    await asyncio.sleep(0.3)
    await alex.send(
        json.dumps({"type": "message.send", "client_id": "late-1", "body": missed_by_the_rules})
    )
    assert (await wait_for(alex, "message.ack"))["status"] == "delivered"
    assert (await wait_for(sam, "message.new"))["client_id"] == "late-1"
    # The worker loads the model on its first look; then it is a matter of milliseconds.
    flag: dict[str, Any] = await wait_for(fran, "flag.new", timeout=30)
    assert flag["source"] == "second_look"
    assert (await wait_for(alex, "support.resources", timeout=5))["level"] == flag["level"]
    for ws in (fran, alex, sam):
        await ws.close()
