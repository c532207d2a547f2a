"""Privacy: after 1,000 marked messages (delivered, flagged, held, refused, and some through
a failing detector) no message text is in the server's log, and Redis holds none."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from tests.conftest import ServerProcess, World
from tests.net import connect

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BODIES = [
    "an ordinary evening {mark}",
    "I feel so alone tonight, nothing helps {mark}",
    "i keep thinking everyone would be better off without me {mark}",
    "I have the pills here, tonight is the night {mark}",
]


async def _send_marked(server: ServerProcess, cookie: str, mark: str, count: int) -> None:
    ws = await connect(server, "/ws/rooms/evening-circle/", cookie)
    answered = 0

    async def read() -> None:
        nonlocal answered
        async for text in ws:
            if json.loads(text)["type"] in {"message.ack", "error"}:
                answered += 1

    reader = asyncio.create_task(read())
    for n in range(count):
        body = BODIES[n % len(BODIES)].format(mark=mark)
        if n % 50 == 0:
            body = body + " " + "x" * 5000  # refused: too long
        await ws.send(json.dumps({"type": "message.send", "client_id": f"p{n}", "body": body}))
    async with asyncio.timeout(120):
        while answered < count:
            await asyncio.sleep(0.05)
    reader.cancel()
    await ws.close()


async def test_no_message_text_in_logs_or_redis(
    world: World, cookies: dict[str, str], start_daphne: Callable[..., ServerProcess]
) -> None:
    mark = f"MARK{uuid.uuid4().hex}"
    normal = start_daphne(CHAT_RATE_LIMIT="0", LOG_LEVEL="DEBUG")
    failing = start_daphne(
        CHAT_RATE_LIMIT="0",
        LOG_LEVEL="DEBUG",
        MODERATION_DETECTOR="tests.detectors.leaky_broken_detector",
    )
    await _send_marked(normal, cookies["alex"], mark, 900)
    await _send_marked(failing, cookies["sam"], mark, 100)
    await asyncio.sleep(0.5)
    for server in (normal, failing):
        log = (Path(tempfile.gettempdir()) / f"peersupport-daphne-{server.port}.log").read_text(
            errors="replace"
        )
        if server is failing:
            assert "crisis detector failed" in log  # the failure was logged...
        assert mark not in log  # ...but no message text
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        if kind == b"string":
            assert mark.encode() not in (client.get(key) or b""), key
        else:
            assert mark.encode() not in key, key
