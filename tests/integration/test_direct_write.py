"""Frames written straight to the transport (chat.wire) under real daphne and uvicorn:
every message once, in order, resumable; a reader that stops reading is closed as too slow
while the room goes on."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import ServerProcess, World
from tests.net import connect, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

MESSAGES = 150


async def _news(ws: Any, count: int, timeout: float = 30) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(timeout):
            while len(frames) < count:
                frame = json.loads(await ws.recv())
                if frame["type"] == "message.new":
                    frames.append(frame)
    except TimeoutError as late:
        raise TimeoutError(f"{len(frames)} of {count} messages in {timeout} s") from late
    return frames


async def _room_traffic(server: ServerProcess, cookies: dict[str, str]) -> None:
    alex = await connect(server, "/ws/rooms/evening-circle/", cookies["alex"])
    sam = await connect(server, "/ws/rooms/evening-circle/", cookies["sam"])
    await asyncio.sleep(0.3)
    for n in range(MESSAGES):
        body = f"message {n} " + "é" * (n * 7)  # frames of every header size up to 126+
        await alex.send(json.dumps({"type": "message.send", "client_id": f"a{n}", "body": body}))
    for ws in (alex, sam):
        got = await _news(ws, MESSAGES)
        assert [f["client_id"] for f in got] == [f"a{n}" for n in range(MESSAGES)]
        assert [f["seq"] for f in got] == list(range(1, MESSAGES + 1))
        assert got[-1]["body"].endswith("é" * ((MESSAGES - 1) * 7))
    # Nothing twice: the room is quiet now.
    with pytest.raises(TimeoutError):
        await _news(sam, 1, timeout=1)
    # A reconnect resumes after its last seq, replay first.
    await sam.close()
    again = await connect(server, "/ws/rooms/evening-circle/?after_seq=100", cookies["sam"])
    replay = await _news(again, MESSAGES - 100)
    assert [f["seq"] for f in replay] == list(range(101, MESSAGES + 1))
    assert (await wait_for(again, "resume.done"))["last_seq"] == MESSAGES
    await alex.close()
    await again.close()


async def test_under_daphne_every_message_arrives_once_in_order(
    world: World, cookies: dict[str, str], start_daphne: Callable[..., ServerProcess]
) -> None:
    await _room_traffic(start_daphne(CHAT_RATE_LIMIT="0"), cookies)


async def test_under_uvicorn_every_message_arrives_once_in_order(
    world: World, cookies: dict[str, str], start_uvicorn: Callable[..., ServerProcess]
) -> None:
    await _room_traffic(start_uvicorn(CHAT_RATE_LIMIT="0"), cookies)


def _stalled_client(server: ServerProcess, cookie: str) -> socket.socket:
    """A room socket that completes the handshake and then never reads."""
    sock = socket.socket()
    # Before connecting, so that the window it offers stays small.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            "GET /ws/rooms/evening-circle/ HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {server.http}\r\nCookie: {cookie}\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def _close_code(sock: socket.socket) -> int | str | None:
    """Read everything the server sent: the code of its close frame, "reset" when it
    aborted the connection (its close frame lost behind unread data), None when it never
    closed within 10 s of silence."""
    sock.settimeout(10)
    data = b""
    try:
        while chunk := sock.recv(1 << 16):
            data += chunk
    except ConnectionResetError:
        return "reset"
    except TimeoutError:
        return None
    code = None
    while data:
        opcode, size, at = data[0] & 0x0F, data[1] & 0x7F, 2
        if size == 126:
            size, at = int.from_bytes(data[2:4]), 4
        elif size == 127:
            size, at = int.from_bytes(data[2:10]), 10
        if opcode == 0x8 and size >= 2:
            code = int.from_bytes(data[at : at + 2])
        data = data[at + size :]
    return code


@pytest.mark.parametrize("server_kind", ["daphne", "uvicorn"])
async def test_a_reader_that_stops_reading_is_closed_and_the_room_goes_on(
    world: World,
    cookies: dict[str, str],
    start_daphne: Callable[..., ServerProcess],
    start_uvicorn: Callable[..., ServerProcess],
    server_kind: str,
) -> None:
    start = start_daphne if server_kind == "daphne" else start_uvicorn
    server = start(CHAT_RATE_LIMIT="0", CHAT_SOCKET_BUFFER=str(64 * 1024))
    stalled = await asyncio.to_thread(_stalled_client, server, cookies["jordan"])
    alex = await connect(server, "/ws/rooms/evening-circle/", cookies["alex"])
    sam = await connect(server, "/ws/rooms/evening-circle/", cookies["sam"])
    body = "a long message that nobody will read in time. " * 80  # about 3.8 KB
    # Far more than the kernel's buffers (the server's send buffer may grow to 4 MiB here)
    # and the 64 KiB bound hold for the stalled socket: about 7.6 MB.
    count = 2000
    # alex reads as it sends (acks and its own messages), as a real client does.
    alex_reads = asyncio.create_task(_news(alex, count, timeout=120))
    for n in range(count):
        await alex.send(json.dumps({"type": "message.send", "client_id": f"s{n}", "body": body}))
    assert len(await _news(sam, count, timeout=120)) == count
    assert len(await alex_reads) == count
    # uvicorn's close frame arrives after the backlog; daphne's closing handshake times out
    # behind the unread backlog and aborts. Either way the server let go of the socket.
    assert await asyncio.to_thread(_close_code, stalled) in (4008, "reset")
    await alex.close()
    await sam.close()
    stalled.close()
