"""Soak: many sockets chatting and reconnecting for a bounded time; memory and Redis keys.

    python bench/soak.py [--minutes 10] [--sockets 500]

One daphne process; --sockets room sockets in the demo's evening-circle (seeded with that
many participants); every second 5 messages are sent and 5 random
sockets drop and reconnect with ?after_seq=. Every 30 s it prints the server's resident
memory and the number of Redis keys (when REDIS_URL is set). Bounded in time; stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
from pathlib import Path

import websockets
from harness import bench_env, prepare_world, server, sessions_for


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def redis_keys() -> int | None:
    url = os.environ.get("REDIS_URL")
    if not url:
        return None
    import redis

    return int(redis.Redis.from_url(url).dbsize())


async def soak(port: int, pid: int, cookies: list[str], minutes: float) -> None:
    url = f"ws://127.0.0.1:{port}/ws/rooms/evening-circle/"
    last_seq = [0] * len(cookies)

    async def open_socket(i: int) -> object:
        ws = await websockets.connect(
            f"{url}?after_seq={last_seq[i]}",
            additional_headers={"Cookie": cookies[i], "Origin": f"http://127.0.0.1:{port}"},
            max_queue=None,
        )

        async def read() -> None:
            try:
                async for text in ws:
                    frame = json.loads(text)
                    if frame["type"] == "message.new":
                        last_seq[i] = max(last_seq[i], frame["seq"])
            except websockets.ConnectionClosed:
                pass

        asyncio.get_running_loop().create_task(read())
        return ws

    sockets = [await open_socket(i) for i in range(len(cookies))]
    base_rss, base_keys = rss_mib(pid), redis_keys()
    print(f"{'minute':>7} {'RSS MiB':>8} {'redis keys':>11} {'messages':>9} {'reconnects':>11}")
    print(f"{0:>7.1f} {base_rss:>8.1f} {base_keys!s:>11} {0:>9} {0:>11}", flush=True)
    start = time.monotonic()
    sent = reconnects = 0
    next_report = 30.0
    while (elapsed := time.monotonic() - start) < minutes * 60:
        for _ in range(5):
            i = random.randrange(len(sockets))
            await sockets[i].send(
                json.dumps(
                    {"type": "message.send", "client_id": f"soak-{sent}", "body": f"soak {sent}"}
                )
            )  # type: ignore[attr-defined]
            sent += 1
        for _ in range(5):
            i = random.randrange(len(sockets))
            await sockets[i].close()  # type: ignore[attr-defined]
            sockets[i] = await open_socket(i)
            reconnects += 1
        if elapsed >= next_report:
            next_report += 30.0
            print(
                f"{elapsed / 60:>7.1f} {rss_mib(pid):>8.1f} {redis_keys()!s:>11} {sent:>9} {reconnects:>11}",
                flush=True,
            )
        await asyncio.sleep(1.0)
    for ws in sockets:
        await ws.close()  # type: ignore[attr-defined]
    await asyncio.sleep(2)
    end_rss, end_keys = rss_mib(pid), redis_keys()
    print(
        f"memory growth: {end_rss - base_rss:+.1f} MiB over {minutes} min; redis keys {base_keys} -> {end_keys} (after all sockets closed)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--sockets", type=int, default=500)
    args = parser.parse_args()
    env = bench_env()
    prepare_world(env, args.sockets)
    names = [f"peer{n:03d}" for n in range(1, args.sockets + 1)]
    sessions = sessions_for(env, names)
    with server(env) as target:
        asyncio.run(soak(target.port, target.proc.pid, [sessions[n] for n in names], args.minutes))


if __name__ == "__main__":
    main()
