"""Helpers for talking to consumers in process (WebsocketCommunicator) and over the network."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from channels.testing import WebsocketCommunicator

from config.asgi import application

ORIGIN = "http://127.0.0.1"
# Generous: on a loaded two-core machine a handshake (session, access, Redis subscribe)
# can take more than the communicator's default second.
CONNECT_TIMEOUT = 10
# Staff sockets also hear who comes and goes in their rooms; tests of other things skip
# that news (tests/integration/test_presence.py listens to it).
PRESENCE_FRAMES = frozenset({"room.presence", "presence.changed"})


def is_presence(output: dict[str, Any]) -> bool:
    if output.get("type") != "websocket.send" or not output.get("text"):
        return False
    return json.loads(output["text"]).get("type") in PRESENCE_FRAMES


def communicator(
    path: str, cookie: str | None = None, origin: str | None = ORIGIN
) -> WebsocketCommunicator:
    headers = [(b"host", b"127.0.0.1")]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if cookie is not None:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def open_room(slug: str, cookie: str, after_seq: int | None = None) -> WebsocketCommunicator:
    path = f"/ws/rooms/{slug}/" + (f"?after_seq={after_seq}" if after_seq is not None else "")
    comm = communicator(path, cookie)
    connected, _ = await comm.connect(timeout=CONNECT_TIMEOUT)
    assert connected
    return comm


async def send(comm: WebsocketCommunicator, frame: dict[str, Any] | str) -> None:
    text = frame if isinstance(frame, str) else json.dumps(frame)
    # send_input, not send_to: send_to refuses an empty text frame, which clients can send.
    await comm.send_input({"type": "websocket.receive", "text": text})


async def recv(
    comm: WebsocketCommunicator, timeout: float = 5, *, presence: bool = False
) -> dict[str, Any]:
    """The next frame (presence news skipped unless ``presence``)."""
    while True:
        frame: dict[str, Any] = json.loads(await comm.receive_from(timeout=timeout))
        if presence or frame["type"] not in PRESENCE_FRAMES:
            return frame


async def recv_until(
    comm: WebsocketCommunicator, kind: str, timeout: float = 5
) -> list[dict[str, Any]]:
    """Frames up to and including the first of type ``kind``."""
    frames = []
    while True:
        frame = await recv(comm, timeout)
        frames.append(frame)
        if frame["type"] == kind:
            return frames


async def say(comm: WebsocketCommunicator, client_id: str, body: str) -> dict[str, Any]:
    """Send a message and return its ack (the frame that answers it)."""
    await send(comm, {"type": "message.send", "client_id": client_id, "body": body})
    while True:
        frame = await recv(comm)
        if frame.get("client_id") == client_id and frame["type"] in {"message.ack", "error"}:
            return frame


async def nothing_more(comm: WebsocketCommunicator, wait: float = 0.3) -> bool:
    """True when nothing but presence news arrives within ``wait`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while (left := deadline - loop.time()) > 0:
        if await comm.receive_nothing(timeout=left):
            return True
        if not is_presence(await comm.receive_output()):
            return False
    return True


async def close_all(*comms: WebsocketCommunicator) -> None:
    await asyncio.gather(*(c.disconnect() for c in comms), return_exceptions=True)


async def close_code(comm: WebsocketCommunicator) -> int | None:
    """Connect and return the close code the server answers with (None: it stayed open)."""
    connected, code = await comm.connect(timeout=CONNECT_TIMEOUT)
    if not connected:
        return int(code) if isinstance(code, int) else None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 2
    while (left := deadline - loop.time()) > 0 and not await comm.receive_nothing(timeout=left):
        output = await comm.receive_output()
        if is_presence(output):
            continue
        assert output["type"] == "websocket.close", output
        return int(output.get("code", 1000))
    await comm.disconnect()
    return None
