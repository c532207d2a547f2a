"""Frames over the size limit are closed with 1009 by the protocol layer (config.serve), and
memory stays flat; if a frame gets past it (a daphne with larger limits), the consumer closes
with 4009."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.frames import CloseCode

from chat.protocol import CLOSE_FRAME_CHARS, CLOSE_TOO_BIG
from tests.conftest import ServerProcess, World
from tests.net import connect, next_frame, send

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

JUST_OVER = CLOSE_FRAME_CHARS + 10_000  # under daphne's own default of 1 MiB
FAR_OVER = 4 * 1024 * 1024  # where a plain daphne drops the connection without a close frame


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def oversized(chars: int) -> str:
    return json.dumps({"type": "message.send", "client_id": "big", "body": "x" * chars})


async def read_until_closed(ws: ClientConnection) -> None:
    """Skip the frames that come first (a leader's room.presence, open escalations on the
    staff socket); an answer to the big frame instead of a close fails."""
    async with asyncio.timeout(10):
        while True:
            frame = await next_frame(ws, timeout=10)
            assert frame["type"] != "error", f"answered instead of closed: {frame}"


async def closed_with(server: ServerProcess, cookie: str, path: str, text: str) -> int:
    """Send ``text``; the close code the server sends."""
    ws = await connect(server, path, cookie)
    await ws.send(text)
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await read_until_closed(ws)
    assert closed.value.rcvd is not None, f"no close frame: {closed.value}"
    return int(closed.value.rcvd.code)


async def still_serves(server: ServerProcess, cookie: str) -> None:
    ws = await connect(server, "/ws/rooms/evening-circle/", cookie)
    # A frame under the limit but with a body over CHAT_MAX_BODY is answered, not closed.
    await send(ws, {"type": "message.send", "client_id": "long", "body": "x" * 100_000})
    assert (await next_frame(ws))["code"] == "too_long"
    await send(ws, {"type": "message.send", "client_id": "after", "body": "still here"})
    assert (await next_frame(ws))["type"] == "message.ack"
    await ws.close()


async def test_oversized_frames_are_closed_with_1009_and_memory_stays_flat(
    world: World, cookies: dict[str, str], start_daphne: Callable[..., ServerProcess]
) -> None:
    server = start_daphne()
    texts = [oversized(JUST_OVER), oversized(FAR_OVER)]
    paths = ["/ws/rooms/evening-circle/", "/ws/staff/"]
    rss: list[float] = []
    for round_ in range(30):
        cookie = cookies["alex"] if round_ % 4 < 2 else cookies["fran"]
        path = paths[0] if round_ % 4 < 2 else paths[1]
        code = await closed_with(server, cookie, path, texts[round_ % 2])
        assert code == CloseCode.MESSAGE_TOO_BIG, f"round {round_}: closed with {code}"
        if round_ in (4, 29):
            rss.append(rss_mib(server.proc.pid))
    assert rss[1] - rss[0] < 16, f"server memory grew from {rss[0]:.0f} to {rss[1]:.0f} MiB"
    await still_serves(server, cookies["alex"])


async def test_a_frame_past_the_protocol_limit_is_closed_by_the_consumer_with_4009(
    world: World, cookies: dict[str, str], start_daphne: Callable[..., ServerProcess]
) -> None:
    mib = str(1024 * 1024)
    server = start_daphne("--websocket-max-message-size", mib, "--websocket-max-frame-size", mib)
    for path, who in (("/ws/rooms/evening-circle/", "alex"), ("/ws/staff/", "fran")):
        code = await closed_with(server, cookies[who], path, oversized(JUST_OVER))
        assert code == CLOSE_TOO_BIG, f"{path}: closed with {code}"
    await still_serves(server, cookies["alex"])
