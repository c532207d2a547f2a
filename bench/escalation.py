"""Time from message.send to escalation.new at an on-call socket, with a busy room alongside.

    python bench/escalation.py [--chatters 100] [--room-rate 10] [--samples 40]

One daphne process; `--chatters` participants chat in evening-circle at `--room-rate`
messages a second in all; casey (on call) holds a staff socket; jordan sends an
imminent-risk message every 0.25 s into the mentoring-free group and we time each one until
escalation.new arrives. Uses DATABASE_URL and REDIS_URL when set (PostgreSQL and Redis, as in
production), otherwise the embedded SQLite database and in-memory layer.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import time

import websockets
from harness import bench_env, prepare_world, server, sessions_for, summary_ms

IMMINENT = "I have the pills here, tonight is the night"
CHAT = ["how was everyone's day", "I went for a walk today", "thanks for listening", "same here"]


async def chatter(port: int, cookie: str, interval: float, stop: asyncio.Event) -> int:
    sent = 0
    async with websockets.connect(
        f"ws://127.0.0.1:{port}/ws/rooms/evening-circle/",
        additional_headers={"Cookie": cookie, "Origin": f"http://127.0.0.1:{port}"},
        max_queue=None,
    ) as ws:

        async def drain() -> None:
            async for _ in ws:
                pass

        reader = asyncio.create_task(drain())
        await asyncio.sleep(random.random() * interval)
        while not stop.is_set() and sent < 10_000:
            await ws.send(
                json.dumps(
                    {
                        "type": "message.send",
                        "client_id": f"c{sent}-{random.random()}",
                        "body": random.choice(CHAT),
                    }
                )
            )
            sent += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
        reader.cancel()
    return sent


async def measure(
    port: int, cookies: dict[str, str], chatters: list[str], room_rate: float, samples: int
) -> list[float]:
    stop = asyncio.Event()
    interval = len(chatters) / room_rate if room_rate > 0 else 3600
    tasks = [asyncio.create_task(chatter(port, cookies[name], interval, stop)) for name in chatters]
    headers = lambda name: {"Cookie": cookies[name], "Origin": f"http://127.0.0.1:{port}"}  # noqa: E731
    latencies: list[float] = []
    async with (
        websockets.connect(
            f"ws://127.0.0.1:{port}/ws/staff/", additional_headers=headers("casey"), max_queue=None
        ) as casey,
        websockets.connect(
            f"ws://127.0.0.1:{port}/ws/rooms/evening-circle/",
            additional_headers=headers("jordan"),
            max_queue=None,
        ) as jordan,
    ):
        # When each message's escalation reached on-call, by the message's seq. Matched by seq:
        # the staff socket also gets every escalation still open when it connects (earlier
        # runs leave theirs open), and taking the first escalation.new after a send measured
        # those, in well under a millisecond.
        arrivals: dict[int, float] = {}

        async def watch() -> None:
            async for text in casey:
                frame = json.loads(text)
                if frame["type"] == "escalation.new":
                    arrivals.setdefault(frame["seq"], time.monotonic())

        watcher = asyncio.create_task(watch())
        await asyncio.sleep(2)  # let the room warm up
        for n in range(samples):
            client_id = f"crisis-{n}-{random.random()}"
            sent = time.monotonic()
            await jordan.send(
                json.dumps({"type": "message.send", "client_id": client_id, "body": IMMINENT})
            )
            async with asyncio.timeout(10):
                while True:
                    frame = json.loads(await jordan.recv())
                    if frame["type"] == "message.ack" and frame["client_id"] == client_id:
                        seq = frame["seq"]
                        break
                while seq not in arrivals:
                    await asyncio.sleep(0.001)
            latencies.append(arrivals[seq] - sent)
            await asyncio.sleep(0.25)
        watcher.cancel()
    stop.set()
    sent_total = sum(await asyncio.gather(*tasks))
    print(f"room traffic during the run: {sent_total} messages from {len(chatters)} chatters")
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chatters", type=int, default=100)
    parser.add_argument(
        "--room-rate",
        type=float,
        default=10.0,
        help="room messages per second, all chatters together",
    )
    parser.add_argument("--samples", type=int, default=40)
    args = parser.parse_args()
    env = bench_env(ESCALATION_ACK_SECONDS="3600")
    prepare_world(env, args.chatters)
    chatters = [f"peer{n:03d}" for n in range(1, args.chatters + 1)]
    cookies = sessions_for(env, [*chatters, "casey", "jordan"])
    backend = "PostgreSQL + Redis" if "DATABASE_URL" in env and "REDIS_URL" in env else "embedded"
    with server(env) as daphne:
        latencies = asyncio.run(
            measure(daphne.port, cookies, chatters, args.room_rate, args.samples)
        )
    print(
        f"send -> escalation.new at on-call ({backend}, daphne, {args.chatters} chatters at {args.room_rate}/s): {summary_ms(latencies)}"
    )


if __name__ == "__main__":
    main()
