"""Frames over the size limit are closed (4009: autobahn will not send 1009 for us), and
memory stays flat."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import websockets

from chat.protocol import CLOSE_FRAME_CHARS, CLOSE_TOO_BIG
from tests.conftest import ServerProcess, World
from tests.net import connect, next_frame, send

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

OVER_OUR_LIMIT = CLOSE_FRAME_CHARS + 10_000  # and under daphne's own 1 MiB


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def test_oversized_frames_are_closed_with_4009_and_memory_stays_flat(
    world: World, cookies: dict[str, str], start_daphne: Callable[..., ServerProcess]
) -> None:
    server = start_daphne()
    oversized = json.dumps(
        {"type": "message.send", "client_id": "big", "body": "x" * OVER_OUR_LIMIT}
    )
    rss: list[float] = []
    for round_ in range(30):
        ws = await connect(server, "/ws/rooms/evening-circle/", cookies["alex"])
        await ws.send(oversized)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await next_frame(ws, timeout=10)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == CLOSE_TOO_BIG
        if round_ in (4, 29):
            rss.append(rss_mib(server.proc.pid))
    assert rss[1] - rss[0] < 16, f"server memory grew from {rss[0]:.0f} to {rss[1]:.0f} MiB"
    # The server still serves.
    ws = await connect(server, "/ws/rooms/evening-circle/", cookies["alex"])
    await send(ws, {"type": "message.send", "client_id": "after", "body": "still here"})
    assert (await next_frame(ws))["type"] == "message.ack"
    await ws.close()
