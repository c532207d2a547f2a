"""Crash: SIGKILL one of two daphne processes mid-run; nothing acknowledged is lost.

Jepsen-style: every client records what it sent, what was acknowledged and what it
received; the history is checked at the end against itself and against the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import subprocess
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import websockets
from channels.db import database_sync_to_async

from chat import hub
from chat.models import Message
from rooms.models import MemberRole, Room, RoomKind
from tests.conftest import ServerProcess, free_port, join, make_user, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROOMS, PER_ROOM, MESSAGES = 10, 10, 30


@dataclass
class History:
    name: str
    room: str
    sent: list[str] = field(default_factory=list)
    acked: dict[str, int] = field(default_factory=dict)
    received: list[int] = field(default_factory=list)
    reconnects: int = 0


@dataclass
class Run:
    histories: list[History]
    fault_ended: float  # time.monotonic()


def _world() -> list[tuple[str, str, str]]:
    """ROOMS rooms of PER_ROOM participants: (name, room slug, cookie)."""
    people = []
    for r in range(ROOMS):
        room = Room.objects.create(slug=f"crash-{r}", title=f"Crash {r}", kind=RoomKind.GROUP)
        for p in range(PER_ROOM):
            user = make_user(f"c{r}p{p}")
            join(user, room, MemberRole.PARTICIPANT)
            people.append((user.username, room.slug, session_cookie(user)))
    return people


async def _client(
    history: History, cookie: str, servers: list[ServerProcess], first: int, go: asyncio.Event
) -> None:
    """Send MESSAGES messages, one after another's ack; on a dropped socket, reconnect to
    the next server, resume after the last seq seen and resend what was not acked."""
    target = first
    last_seq = 0
    next_message = 0
    async with asyncio.timeout(120):
        while True:
            server = servers[target % len(servers)]
            url = f"{server.ws}/ws/rooms/{history.room}/?after_seq={last_seq}"
            try:
                async with websockets.connect(
                    url,
                    additional_headers={"Cookie": cookie, "Origin": server.http},
                    open_timeout=10,
                ) as ws:
                    await go.wait()
                    pending: str | None = None
                    while True:
                        if pending is None and next_message < MESSAGES:
                            pending = f"{history.name}-{next_message}"
                            history.sent.append(pending)
                            await ws.send(
                                json.dumps(
                                    {"type": "message.send", "client_id": pending, "body": pending}
                                )
                            )
                        elif pending is None and _complete(history):
                            return
                        frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
                        if frame["type"] == "message.new":
                            history.received.append(frame["seq"])
                            last_seq = max(last_seq, frame["seq"])
                        elif frame["type"] == "message.ack":
                            history.acked[frame["client_id"]] = frame["seq"]
                            if frame["client_id"] == pending:
                                pending = None
                                next_message += 1
                        elif frame["type"] == "resume.done":
                            last_seq = max(last_seq, frame["last_seq"])
                            if pending is not None:  # resend with the same client_id
                                await ws.send(
                                    json.dumps(
                                        {
                                            "type": "message.send",
                                            "client_id": pending,
                                            "body": pending,
                                        }
                                    )
                                )
            # InvalidHandshake: the socket was accepted and then dropped before the server's
            # answer (a process killed mid-handshake, its backlog closed with it); a browser
            # sees a failed connection and retries, and so does this client.
            except (
                OSError,
                websockets.ConnectionClosed,
                websockets.InvalidHandshake,
                TimeoutError,
            ):
                history.reconnects += 1
                target += 1
                await asyncio.sleep(0.2)


_expected_per_room: dict[str, int] = {}


def _complete(history: History) -> bool:
    return len(set(history.received)) >= _expected_per_room.get(history.room, 1 << 30)


class OwnRedis:
    """A redis-server of this test's own, so that it can be killed and restarted."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    redis = OwnRedis()
    redis.start()
    yield redis
    redis.kill()


async def test_sigkill_of_one_process_loses_nothing_acknowledged(
    start_daphne: Callable[..., ServerProcess],
) -> None:
    people = await database_sync_to_async(_world)()
    servers = [start_daphne(CHAT_RATE_LIMIT="0"), start_daphne(CHAT_RATE_LIMIT="0")]
    run = await _run(people, servers, fault=servers[1].kill)
    assert sum(h.reconnects for h in run.histories) >= PER_ROOM * ROOMS // 2 - 5, (
        "the kill hit half the clients"
    )


async def test_a_redis_restart_mid_run_loses_nothing_and_delivery_comes_back(
    start_daphne: Callable[..., ServerProcess], own_redis: OwnRedis
) -> None:
    people = await database_sync_to_async(_world)()
    servers = [
        start_daphne(CHAT_RATE_LIMIT="0", REDIS_URL=own_redis.url),
        start_daphne(CHAT_RATE_LIMIT="0", REDIS_URL=own_redis.url),
    ]

    def restart_redis() -> None:
        own_redis.kill()
        time.sleep(1.0)
        own_redis.start()

    # Two more sockets in one room, open across the restart, to time live delivery after it.
    probe = await Probe.open(servers[0], "crash-0", people[0][2], people[1][2])
    run = await _run(people, servers, fault=restart_redis)
    # Both processes stayed up, so no client had to reconnect: whatever the outage swallowed
    # came from the servers (the next message's gap, the sync loop) within the clients'
    # 10 s of patience, not from a client's own resume.
    reconnected = [h.name for h in run.histories if h.reconnects]
    assert not reconnected, f"clients reconnected after the Redis restart: {reconnected[:5]}"
    # Live delivery came back: the hub resubscribed to the rooms it had (without that the
    # sync loop still delivers, but only every SYNC_SECONDS). redis-py's reconnection backs
    # off for some seconds after an outage, so this waits 10 s past the restart.
    await asyncio.sleep(max(0.0, run.fault_ended + 10 - time.monotonic()))
    took = await probe.round_trip()
    assert took < min(1.0, hub.SYNC_SECONDS / 2), f"a message took {took:.2f} s after the restart"
    await probe.close()


class Probe:
    """Two sockets of one room: one sends, the other times the message's arrival."""

    def __init__(self, sender: Any, receiver: Any) -> None:
        self.sender, self.receiver = sender, receiver
        self.arrived = asyncio.Event()
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, server: ServerProcess, room: str, one: str, two: str) -> Probe:
        sockets = [
            await websockets.connect(
                f"{server.ws}/ws/rooms/{room}/",
                additional_headers={"Cookie": cookie, "Origin": server.http},
                open_timeout=10,
            )
            for cookie in (one, two)
        ]
        return cls(*sockets)

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):  # the servers stop at the end
            async for text in self.receiver:
                frame = json.loads(text)
                if frame["type"] == "message.new" and frame["client_id"] == "probe":
                    self.arrived.set()

    async def round_trip(self) -> float:
        started = time.monotonic()
        await self.sender.send(
            json.dumps({"type": "message.send", "client_id": "probe", "body": "probe"})
        )
        await asyncio.wait_for(self.arrived.wait(), timeout=10)
        return time.monotonic() - started

    async def close(self) -> None:
        self.reader.cancel()
        for ws in (self.sender, self.receiver):
            await ws.close()


async def _run(
    people: list[tuple[str, str, str]], servers: list[ServerProcess], fault: Callable[[], None]
) -> Run:
    histories = [History(name, room) for name, room, _ in people]
    _expected_per_room.clear()
    _expected_per_room.update({room: PER_ROOM * MESSAGES for _, room, _ in people})
    go = asyncio.Event()
    tasks = [
        asyncio.create_task(_client(h, cookie, servers, i, go))
        for i, (h, (_, _, cookie)) in enumerate(zip(histories, people, strict=True))
    ]
    await asyncio.sleep(1.0)
    go.set()
    # Kill the second process once about a third of the messages are acknowledged.
    async with asyncio.timeout(60):
        while sum(len(h.acked) for h in histories) < ROOMS * PER_ROOM * MESSAGES // 3:
            await asyncio.sleep(0.05)
    await asyncio.get_running_loop().run_in_executor(None, fault)
    fault_ended = time.monotonic()
    await asyncio.gather(*tasks)

    stored = await database_sync_to_async(
        lambda: list(
            Message.objects.filter(room__slug__startswith="crash-").values_list(
                "room__slug", "client_id", "seq"
            )
        )
    )()
    _check(histories, stored)
    return Run(histories, fault_ended)


def _check(histories: list[History], stored: list[tuple[str, str, int]]) -> None:
    by_room: dict[str, dict[str, int]] = defaultdict(dict)
    for room, client_id, seq in stored:
        assert client_id not in by_room[room], f"{client_id} stored twice"
        by_room[room][client_id] = seq
    for h in histories:
        # Every message was acknowledged, exactly as stored, and stored once.
        assert set(h.acked) == set(h.sent), f"{h.name}: unacknowledged {set(h.sent) - set(h.acked)}"
        for client_id, seq in h.acked.items():
            assert by_room[h.room].get(client_id) == seq, (
                f"{client_id}: ack says {seq}, store says otherwise"
            )
        # Received: every message of the room, once each, in strictly increasing order.
        assert h.received == sorted(set(h.received)), f"{h.name}: out of order or duplicated"
        assert set(h.received) == set(by_room[h.room].values()), f"{h.name}: lost messages"
