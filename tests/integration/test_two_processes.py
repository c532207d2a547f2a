"""Two real daphne processes sharing one Redis and one PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
import websockets

from tests.conftest import ServerProcess, World

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PER_SIDE = 100


async def _collect(
    ws: Any, expected: int, timeout: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    news: list[dict[str, Any]] = []
    acks: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while len(news) < expected or len(acks) < PER_SIDE:
            frame = json.loads(await ws.recv())
            if frame["type"] == "message.new":
                news.append(frame)
            elif frame["type"] == "message.ack":
                acks.append(frame)
            else:
                raise AssertionError(f"unexpected frame {frame}")
    return news, acks


async def test_messages_cross_processes_exactly_once_in_order(
    world: World, cookies: dict[str, str], start_daphne: Callable[..., ServerProcess]
) -> None:
    """200 messages sent from both sides arrive at both clients once each, in seq order."""
    one = start_daphne(CHAT_RATE_LIMIT="0")
    two = start_daphne(CHAT_RATE_LIMIT="0")
    alex_ws = await websockets.connect(
        f"{one.ws}/ws/rooms/evening-circle/",
        additional_headers={"Cookie": cookies["alex"], "Origin": one.http},
    )
    sam_ws = await websockets.connect(
        f"{two.ws}/ws/rooms/evening-circle/",
        additional_headers={"Cookie": cookies["sam"], "Origin": two.http},
    )
    # Let both subscriptions settle before the traffic starts.
    await asyncio.sleep(0.3)

    async def send_all(ws: Any, who: str) -> None:
        for n in range(PER_SIDE):
            await ws.send(
                json.dumps(
                    {"type": "message.send", "client_id": f"{who}-{n}", "body": f"{who} {n}"}
                )
            )

    total = 2 * PER_SIDE
    collectors = [
        asyncio.create_task(_collect(alex_ws, total, 60)),
        asyncio.create_task(_collect(sam_ws, total, 60)),
    ]
    await asyncio.gather(send_all(alex_ws, "alex"), send_all(sam_ws, "sam"))
    (alex_news, alex_acks), (sam_news, sam_acks) = await asyncio.gather(*collectors)

    for news in (alex_news, sam_news):
        seqs = [f["seq"] for f in news]
        assert seqs == list(range(1, total + 1)), "every message once, in seq order"
        bodies = {f["body"] for f in news}
        assert bodies == {f"{w} {n}" for w in ("alex", "sam") for n in range(PER_SIDE)}
    # Both sockets saw the same message at each seq.
    assert [(f["seq"], f["client_id"]) for f in alex_news] == [
        (f["seq"], f["client_id"]) for f in sam_news
    ]
    assert {a["client_id"] for a in alex_acks} == {f"alex-{n}" for n in range(PER_SIDE)}
    assert {a["client_id"] for a in sam_acks} == {f"sam-{n}" for n in range(PER_SIDE)}
    await alex_ws.close()
    await sam_ws.close()


async def test_rate_limit_holds_across_processes(
    world: World, cookies: dict[str, str], start_daphne: Callable[..., ServerProcess]
) -> None:
    """The limit is counted in Redis: sockets on two processes share one budget."""
    one = start_daphne(CHAT_RATE_LIMIT="4")
    two = start_daphne(CHAT_RATE_LIMIT="4")
    sockets = [
        await websockets.connect(
            f"{server.ws}/ws/rooms/evening-circle/",
            additional_headers={"Cookie": cookies["alex"], "Origin": server.http},
        )
        for server in (one, two)
    ]
    answers = []
    for n in range(6):
        ws = sockets[n % 2]
        await ws.send(json.dumps({"type": "message.send", "client_id": f"rl-{n}", "body": "hi"}))
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if frame.get("client_id") == f"rl-{n}" and frame["type"] != "message.new":
                answers.append(frame)
                break
    assert [a["type"] for a in answers] == ["message.ack"] * 4 + ["error"] * 2
    assert {a["code"] for a in answers[4:]} == {"rate_limited"}
    for ws in sockets:
        await ws.close()
