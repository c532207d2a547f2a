"""Flood: one client at 10x the rate limit while others chat; their latency should not move.

    python bench/flood.py [--room 50] [--seconds 10]

One daphne process with the default rate limit (60 a minute). A steady room (--room
participants, 5 messages a second in all) is measured twice in the same run: alone, and
with one more client sending 10 messages a second (10x the limit). Prints p50/p99 latency of
the others in both phases, their ratio, and how many of the flooder's messages were refused
with rate_limited.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time

import websockets
from harness import bench_env, percentile, prepare_world, server, sessions_for


async def phase(
    port: int, cookies: list[str], flooder: str | None, seconds: float
) -> tuple[list[float], int, int]:
    url = f"ws://127.0.0.1:{port}/ws/rooms/evening-circle/"
    headers = lambda c: {"Cookie": c, "Origin": f"http://127.0.0.1:{port}"}  # noqa: E731
    sockets = [
        await websockets.connect(url, additional_headers=headers(c), max_queue=None)
        for c in cookies
    ]
    latencies: list[float] = []

    async def read(ws: object) -> None:
        async for text in ws:  # type: ignore[attr-defined]
            frame = json.loads(text)
            if frame["type"] == "message.new" and frame["body"].startswith("t="):
                latencies.append(time.perf_counter() - float(frame["body"][2:].split()[0]))

    readers = [asyncio.create_task(read(ws)) for ws in sockets[1:]]
    refused = sent = 0
    flood_task = None
    if flooder is not None:
        fws = await websockets.connect(url, additional_headers=headers(flooder), max_queue=None)

        async def flood() -> None:
            nonlocal refused, sent

            async def count() -> None:
                nonlocal refused
                async for text in fws:
                    if json.loads(text).get("code") == "rate_limited":
                        refused += 1

            counter = asyncio.create_task(count())
            n = 0
            while True:
                await fws.send(
                    json.dumps(
                        {
                            "type": "message.send",
                            "client_id": f"f{time.time_ns()}",
                            "body": f"flood {n}",
                        }
                    )
                )
                sent += 1
                n += 1
                await asyncio.sleep(0.1)
            counter.cancel()

        flood_task = asyncio.create_task(flood())
    # Steady traffic from the room: 5 messages a second, round robin over the senders.
    senders = sockets[: max(1, len(sockets) // 5)]
    start = time.perf_counter()
    n = 0
    while time.perf_counter() - start < seconds:
        ws = senders[n % len(senders)]
        await ws.send(
            json.dumps(
                {
                    "type": "message.send",
                    "client_id": f"s{time.time_ns()}",
                    "body": f"t={time.perf_counter()} steady",
                }
            )
        )
        n += 1
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)
    if flood_task is not None:
        flood_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await flood_task
        await fws.close()
    for task in readers:
        task.cancel()
    for ws in sockets:
        await ws.close()
    return latencies, sent, refused


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--room", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    env = bench_env()
    env["CHAT_RATE_LIMIT"] = "60"
    prepare_world(env, args.room + 1)
    names = [f"peer{n:03d}" for n in range(1, args.room + 2)]
    sessions = sessions_for(env, names)
    cookies = [sessions[n] for n in names[:-1]]
    with server(env) as target:
        calm, _, _ = asyncio.run(phase(target.port, cookies, None, args.seconds))
        stormy, sent, refused = asyncio.run(
            phase(target.port, cookies, sessions[names[-1]], args.seconds)
        )
    c50, c99 = percentile(calm, 50) * 1000, percentile(calm, 99) * 1000
    s50, s99 = percentile(stormy, 50) * 1000, percentile(stormy, 99) * 1000
    print(
        f"others' latency alone:        p50 {c50:.1f} ms  p99 {c99:.1f} ms  ({len(calm)} deliveries)"
    )
    print(
        f"others' latency with a flood: p50 {s50:.1f} ms  p99 {s99:.1f} ms  ({len(stormy)} deliveries)"
    )
    print(f"p99 with flood / alone: {s99 / c99:.2f}")
    print(
        f"flooder: {sent} sent at 10 a second, {refused} refused as rate_limited (limit 60 a minute)"
    )


if __name__ == "__main__":
    main()
