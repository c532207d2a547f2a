"""Moderation end to end: two daphne processes, the Procfile worker and one Redis.

Speaks only the contract, with ESCALATION_ACK_SECONDS=3.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable

import pytest
import websockets

from moderation.defaults import seed_defaults
from tests.conftest import ServerProcess, World
from tests.net import connect, next_frame, quiet, send, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ACK_SECONDS = 3
IDIOM = "that quiz show was killing me"
HIGH = "i keep thinking everyone would be better off without me"
IMMINENT = "I have the pills here, tonight is the night"


@pytest.fixture
def crisis_lines(transactional_db: None) -> None:
    seed_defaults()


async def test_the_escalation_ladder_across_processes(
    crisis_lines: None,
    world: World,
    cookies: dict[str, str],
    start_daphne: Callable[..., ServerProcess],
    start_worker: Callable[..., subprocess.Popen[bytes]],
) -> None:
    env = {"ESCALATION_ACK_SECONDS": str(ACK_SECONDS)}
    one, two = start_daphne(**env), start_daphne(**env)
    worker = start_worker(**env)

    alex = await connect(one, "/ws/rooms/evening-circle/", cookies["alex"])
    sam = await connect(one, "/ws/rooms/evening-circle/", cookies["sam"])
    fran = await connect(one, "/ws/staff/", cookies["fran"])
    casey = await connect(two, "/ws/staff/", cookies["casey"])
    await asyncio.sleep(0.3)

    # An idiom is delivered and raises no flag.
    await send(alex, {"type": "message.send", "client_id": "idiom", "body": IDIOM})
    assert (await wait_for(alex, "message.ack"))["status"] == "delivered"
    assert (await wait_for(sam, "message.new"))["body"] == IDIOM
    assert await quiet(fran, "flag.new", 0.5)

    # Imminent: held, resources, flag to the facilitator, escalation to on-call on the
    # other process in under a second.
    sent_at = time.monotonic()
    await send(alex, {"type": "message.send", "client_id": "crisis", "body": IMMINENT})
    escalation = await wait_for(casey, "escalation.new", timeout=5)
    latency = time.monotonic() - sent_at
    assert latency < 1.0, f"escalation.new took {latency:.3f}s"
    assert escalation["level"] == "imminent"
    ack = await wait_for(alex, "message.ack")
    assert ack["status"] == "held"
    assert (await wait_for(alex, "support.resources"))["level"] == "imminent"
    assert (await wait_for(fran, "flag.new"))["level"] == "imminent"
    assert await quiet(sam, "message.new", 0.5)

    # Unacknowledged: back as overdue with a higher tier after the deadline...
    overdue = await wait_for(casey, "escalation.updated", timeout=ACK_SECONDS + 3, overdue=True)
    assert overdue["tier"] == 2
    assert overdue["escalation_id"] == escalation["escalation_id"]
    # ...and again after the worker is killed and restarted: the ladder lives in the database.
    worker.kill()
    worker.wait(timeout=10)
    start_worker(**env)
    again = await wait_for(casey, "escalation.updated", timeout=ACK_SECONDS + 5, overdue=True)
    assert again["tier"] == 3

    # Acknowledged: no more overdue notices. Resolve is broadcast.
    await send(casey, {"type": "escalation.ack", "escalation_id": escalation["escalation_id"]})
    assert (await wait_for(casey, "escalation.updated", state="acknowledged"))[
        "acknowledged_by"
    ] == "casey"
    assert await quiet(casey, "escalation.updated", ACK_SECONDS + 1.5)
    await send(
        casey,
        {
            "type": "escalation.resolve",
            "escalation_id": escalation["escalation_id"],
            "note": "Reached them.",
        },
    )
    assert (await wait_for(casey, "escalation.updated", state="resolved"))["tier"] == 3
    assert (await wait_for(fran, "escalation.updated", state="resolved"))["resolved_by"] == "casey"

    # High: delivered, flagged, resources to the sender.
    await send(alex, {"type": "message.send", "client_id": "high", "body": HIGH})
    assert (await wait_for(sam, "message.new"))["body"] == HIGH
    assert (await wait_for(alex, "support.resources"))["level"] == "high"
    assert (await wait_for(fran, "flag.new"))["level"] == "high"

    # A peer report reaches the facilitator.
    high_seq = (await wait_for(alex, "message.new", client_id="high"))["seq"]
    await send(sam, {"type": "message.report", "seq": high_seq, "reason": "worried"})
    await wait_for(sam, "report.received")
    assert (await wait_for(fran, "flag.new"))["source"] == "peer_report"

    # Raised while no on-call is connected: the first one to connect gets it.
    await casey.close()
    await send(alex, {"type": "message.send", "client_id": "crisis-2", "body": IMMINENT})
    assert (await wait_for(fran, "oncall.unavailable"))["room"] == "evening-circle"
    casey = await connect(two, "/ws/staff/", cookies["casey"])
    pending = await wait_for(casey, "escalation.new", state="open")
    assert pending["seq"] == (await wait_for(alex, "message.ack", client_id="crisis-2"))["seq"]

    # A participant cannot open the staff socket.
    participant = await connect(one, "/ws/staff/", cookies["sam"])
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await next_frame(participant)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403

    for ws in (alex, sam, fran, casey):
        await ws.close()
