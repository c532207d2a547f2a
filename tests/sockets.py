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


async def recv(comm: WebsocketCommunicator, timeout: float = 5) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(await comm.receive_from(timeout=timeout))
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
    return await comm.receive_nothing(timeout=wait)


async def close_all(*comms: WebsocketCommunicator) -> None:
    await asyncio.gather(*(c.disconnect() for c in comms), return_exceptions=True)


async def close_code(comm: WebsocketCommunicator) -> int | None:
    """Connect and return the close code the server answers with (None: it stayed open)."""
    connected, code = await comm.connect(timeout=CONNECT_TIMEOUT)
    if not connected:
        return int(code) if isinstance(code, int) else None
    if await comm.receive_nothing(timeout=2):
        await comm.disconnect()
        return None
    output = await comm.receive_output(timeout=3)
    assert output["type"] == "websocket.close", output
    return int(output.get("code", 1000))
