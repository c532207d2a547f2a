"""Signing out closes that user's sockets within seconds; so do deactivation and removal."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.sessions.models import Session

from chat import hub
from moderation import consumers as staff_consumers
from rooms.models import Membership, User
from tests.conftest import World
from tests.sockets import CONNECT_TIMEOUT, close_all, communicator, is_presence, open_room

pytestmark = pytest.mark.django_db(transaction=True)


def _session_key(cookie: str) -> str:
    return cookie.split("=", 1)[1]


async def _closed_within(comm: Any, seconds: float) -> int:
    """The close code, skipping presence news (a staff socket hears who is in its rooms)."""
    async with asyncio.timeout(seconds):
        while True:
            output = await comm.receive_output(timeout=seconds)
            if not is_presence(output):
                break
    assert output["type"] == "websocket.close", output
    return int(output["code"])


@pytest.fixture(autouse=True)
def _fast_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub, "SYNC_SECONDS", 0.5)
    monkeypatch.setattr(staff_consumers, "SESSION_CHECK_SECONDS", 0.5)


async def test_signing_out_closes_the_users_room_and_staff_sockets(
    world: World, cookies: dict[str, str]
) -> None:
    fran_room = await open_room("evening-circle", cookies["fran"])
    fran_staff = communicator("/ws/staff/", cookies["fran"])
    assert (await fran_staff.connect(timeout=CONNECT_TIMEOUT))[0]
    sam = await open_room("evening-circle", cookies["sam"])
    # Django's logout deletes the session.
    await database_sync_to_async(
        Session.objects.filter(session_key=_session_key(cookies["fran"])).delete
    )()
    assert await _closed_within(fran_room, 5) == 4401
    assert await _closed_within(fran_staff, 5) == 4401
    assert await sam.receive_nothing(timeout=1.2)  # others stay connected
    await close_all(sam)


async def test_deactivation_and_removal_close_sockets(
    world: World, cookies: dict[str, str]
) -> None:
    alex = await open_room("evening-circle", cookies["alex"])
    sam = await open_room("evening-circle", cookies["sam"])
    await database_sync_to_async(User.objects.filter(username="alex").update)(is_active=False)
    await database_sync_to_async(Membership.objects.filter(user__username="sam").delete)()
    assert await _closed_within(alex, 5) == 4401
    assert await _closed_within(sam, 5) == 4401
