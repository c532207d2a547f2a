"""Idle sockets one daphne process holds, and its memory per socket.

    python bench/idle.py [--sockets 5000] [--server daphne]

Opens `--sockets` room sockets (in steps) to one server process on 127.0.0.1, all signed in
as demo participants, and prints the server's resident memory at each step and per socket.
Then checks that a message still reaches every socket.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import websockets
from harness import bench_env, prepare_world, server, sessions_for


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def run(port: int, pid: int, cookies: list[str], total: int) -> None:
    url = f"ws://127.0.0.1:{port}/ws/rooms/evening-circle/"
    sockets = []
    base = rss_mib(pid)
    print(f"{'sockets':>8} {'server RSS MiB':>15} {'KiB per socket':>15}")
    print(f"{0:>8} {base:>15.1f} {'':>15}")
    steps = sorted({s for s in (100, 500, 1000, 2000, 3000, 4000, 5000, total) if s <= total})
    for step in steps:
        while len(sockets) < step:
            batch = min(100, step - len(sockets))
            sockets += await asyncio.gather(
                *(
                    websockets.connect(
                        url,
                        additional_headers={
                            "Cookie": cookies[(len(sockets) + i) % len(cookies)],
                            "Origin": f"http://127.0.0.1:{port}",
                        },
                        open_timeout=60,
                        max_queue=None,
                    )
                    for i in range(batch)
                )
            )
        await asyncio.sleep(1)
        rss = rss_mib(pid)
        print(
            f"{len(sockets):>8} {rss:>15.1f} {(rss - base) * 1024 / len(sockets):>15.1f}",
            flush=True,
        )
    # Everyone still hears the room.
    started = time.perf_counter()
    await sockets[0].send(
        json.dumps(
            {
                "type": "message.send",
                "client_id": f"idle-{time.time_ns()}",
                "body": "hello, everyone",
            }
        )
    )

    async def first_new(ws: object) -> None:
        while json.loads(await ws.recv())["type"] != "message.new":  # type: ignore[attr-defined]
            pass

    await asyncio.wait_for(asyncio.gather(*(first_new(ws) for ws in sockets)), 60)
    print(
        f"one message reached all {len(sockets)} sockets in {(time.perf_counter() - started) * 1000:.0f} ms"
    )
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sockets", type=int, default=5000)
    parser.add_argument("--server", default="daphne")
    args = parser.parse_args()
    env = bench_env()
    prepare_world(env, 100)
    names = [f"peer{n:03d}" for n in range(1, 101)]
    cookies = list(sessions_for(env, names).values())
    with server(env, args.server) as target:
        asyncio.run(run(target.port, target.proc.pid, cookies, args.sockets))


if __name__ == "__main__":
    main()
