"""Fan-out benchmark: the product under daphne and uvicorn against a raw `websockets` server.

    python bench/fanout.py [--sizes 10,100,300] [--servers raw,daphne,uvicorn] [--quick]

Servers: raw, daphne, uvicorn, and daphnex2 / uvicornx2 (two processes sharing Redis, the
clients spread over both). For each server and room size: a burst (6 senders x --burst-each messages, default 300, back to back) and a steady
load (10 messages a second for 10 s). Printed per run: deliveries per second (summed over
receivers), send-to-receipt latency p50/p99/max, messages lost and duplicated (after the
product's clients resume by seq), server CPU microseconds per delivery and peak memory.

All clients are lean asyncio WebSocket clients in this process (bench/wsclient.py: no
per-frame task or JSON decode, so that the load generator costs far less per delivery
than the servers it measures; its own CPU per delivery is printed as `client us`), signed
in as real users of the demo world (seed_demo --crowd N). All traffic is on 127.0.0.1; every loop is bounded.
Uses DATABASE_URL and REDIS_URL when set, else the embedded database and in-memory layer.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import websockets
import wsclient
from harness import Server, bench_env, percentile, prepare_world, server, sessions_for

# Senders in a burst. Even, so that two processes each take in half of it: clients are
# spread over the processes round robin, and with 5 senders one process stored 3 of every 5
# messages, which alone held two processes to at most 5/3 of one (--senders 5 to see it).
BURST_SENDERS = 6
# Messages per sender in a burst. 300 (1,800 messages, 540,000 deliveries into a room of 300)
# so that a burst measures a room at saturation: with 100, a fast VM took a burst into 300
# in 0.3-0.6 s, of which the start (the first acks) and the drain were a large part.
BURST_EACH = 300
STEADY_RATE, STEADY_SECONDS = 10.0, 10.0
DRAIN_TIMEOUT = 60.0


def _path(kind: str) -> str:
    return "/" if kind == "raw" else "/ws/rooms/evening-circle/"


def _machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, all cores (/proc/stat): what
    the servers, the load generator, PostgreSQL, Redis and the kernel's loopback TCP
    together left idle."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    ticks = os.sysconf("SC_CLK_TCK")
    return (sum(fields) - idle) / ticks, sum(fields) / ticks


async def run_load(
    targets: list[Server],
    kind: str,
    cookies: list[str],
    mode: str,
    burst_each: int,
    burst_senders: int = BURST_SENDERS,
) -> dict[str, Any]:
    """Clients are spread over ``targets`` round robin (senders too); CPU is summed."""
    target = targets[0]
    sockets = []
    for index, cookie in enumerate(cookies):
        near = targets[index % len(targets)]
        sockets.append(
            await wsclient.connect(
                near.port,
                _path(kind),
                {"Cookie": cookie, "Origin": f"http://127.0.0.1:{near.port}"},
            )
        )
    tallies = [s.tally for s in sockets]
    await asyncio.sleep(1.0)
    # No cyclic garbage collection while the load runs: what the clients keep of every frame
    # (hundreds of thousands of small objects in a burst at 300) made each collection
    # longer, which doubled the client's CPU per frame; nothing in the hot path makes cycles.
    gc.collect()
    gc.disable()
    cpu_before = sum(t.cpu_seconds() for t in targets)
    client_cpu_before = time.process_time()  # the load generator's own CPU
    machine_before = _machine_busy()
    started = time.perf_counter()
    tag = f"{mode}-{time.time_ns()}"
    if mode == "burst":
        senders = sockets[:burst_senders]
        # Back to back, as fast as the transports take them; interleaved over the senders.
        for n in range(burst_each):
            for index, ws in enumerate(senders):
                body = f"t={time.perf_counter()} burst"
                ws.send_text(
                    json.dumps(
                        {"type": "message.send", "client_id": f"{tag}-{index}-{n}", "body": body}
                    )
                )
            await asyncio.sleep(0)
        expected = burst_senders * burst_each
    else:
        ws = sockets[0]
        count = int(STEADY_RATE * STEADY_SECONDS)
        for n in range(count):
            due = started + n / STEADY_RATE
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            ws.send_text(
                json.dumps(
                    {
                        "type": "message.send",
                        "client_id": f"{tag}-{n}",
                        "body": f"t={time.perf_counter()} steady",
                    }
                )
            )
        expected = count
    # Wait until every receiver has every message, or the drain timeout.
    deadline = time.perf_counter() + DRAIN_TIMEOUT
    # (``received`` counts duplicates too; the frames are read after the figures are taken,
    # and a duplicate that hid a loss shows as lost below)
    while time.perf_counter() < deadline and any(t.received < expected for t in tallies):
        await asyncio.sleep(0.05)
    finished = max((t.last_receipt for t in tallies), default=started)
    cpu = sum(t.cpu_seconds() for t in targets) - cpu_before
    client_cpu = time.process_time() - client_cpu_before
    machine_after = _machine_busy()
    gc.enable()
    busy = (machine_after[0] - machine_before[0]) / max(machine_after[1] - machine_before[1], 1e-9)
    acked = sorted({seq for t in tallies for cid, seq in t.acks.items() if cid.startswith(tag)})
    delivered = sum(t.received for t in tallies)
    seqs = [t.seqs for t in tallies]
    duplicated = sum(len(s) - len(set(s)) for s in seqs)
    missing = [set(acked) - set(s) for s in seqs]
    lost_before_resume = sum(len(m) for m in missing)
    lost = lost_before_resume
    if kind != "raw" and lost_before_resume:
        lost = await _resume_missing(target, cookies, missing)
    await asyncio.gather(*(ws.close() for ws in sockets))
    latencies = [x for t in tallies for x in t.latencies]
    elapsed = max(finished - started, 1e-9)
    return {
        "deliveries_per_s": delivered / elapsed,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "max_ms": max(latencies, default=float("nan")) * 1000,
        "lost_before_resume": lost_before_resume,
        "lost": lost,
        "duplicated": duplicated,
        "cpu_us_per_delivery": cpu / max(delivered, 1) * 1e6,
        "client_us_per_delivery": client_cpu / max(delivered, 1) * 1e6,
        "machine_busy": busy,
        "peak_mib": sum(t.peak_rss_mib() for t in targets),
        "acks_s": max(t.last_ack for t in tallies) - started,
        "drain_s": finished - started,
        "expected": expected * len(tallies),
        "delivered": delivered,
    }


async def _resume_missing(target: Server, cookies: list[str], missing: list[set[int]]) -> int:
    """Reconnect every client that missed something and resume by seq; count what is still missing."""
    still = 0
    for cookie, gaps in zip(cookies, missing, strict=True):
        if not gaps:
            continue
        after = min(gaps) - 1
        async with websockets.connect(
            f"ws://127.0.0.1:{target.port}/ws/rooms/evening-circle/?after_seq={after}",
            additional_headers={"Cookie": cookie, "Origin": f"http://127.0.0.1:{target.port}"},
            max_queue=None,
        ) as ws:
            got: set[int] = set()
            async with asyncio.timeout(30):
                async for text in ws:
                    frame = json.loads(text)
                    if frame["type"] == "message.new":
                        got.add(frame["seq"])
                    elif frame["type"] == "resume.done":
                        break
        still += len(gaps - got)
    return still


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10,100,300")
    parser.add_argument("--servers", default="raw,daphne,uvicorn")
    parser.add_argument("--modes", default="burst,steady")
    parser.add_argument(
        "--burst-each",
        type=int,
        default=BURST_EACH,
        help=f"messages per sender in a burst (default {BURST_EACH})",
    )
    parser.add_argument(
        "--senders", type=int, default=BURST_SENDERS, help="senders in a burst (default 6)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run every configuration this many times, interleaved; ratios are of medians",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    kinds = args.servers.split(",")
    modes = args.modes.split(",")
    env = bench_env()
    prepare_world(env, max(sizes))
    names = [f"peer{n:03d}" for n in range(1, max(sizes) + 1)]
    sessions = sessions_for(env, names)
    cookies = [sessions[n] for n in names]
    header = f"{'server':<8} {'room':>5} {'load':<6} {'deliv/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'lost':>5} {'dup':>4} {'cpu us/dlv':>10} {'client us':>9} {'busy %':>6} {'peak MiB':>9}"
    print(header)
    results: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    # Each size and load runs on every server one after the other: ratios of close runs.
    for _, size, mode, kind in itertools.product(range(args.repeat), sizes, modes, kinds):
        with contextlib.ExitStack() as stack:
            count = 2 if kind.endswith("x2") else 1
            targets = [
                stack.enter_context(server(env, kind.removesuffix("x2"))) for _ in range(count)
            ]
            row = asyncio.run(
                run_load(targets, kind, cookies[:size], mode, args.burst_each, args.senders)
            )
        results.setdefault((kind, size, mode), []).append(row)
        print(
            f"{kind:<8} {size:>5} {mode:<6} {row['deliveries_per_s']:>9.0f} {row['p50_ms']:>8.1f} {row['p99_ms']:>8.1f} "
            f"{row['max_ms']:>8.1f} {row['lost']:>5} {row['duplicated']:>4} {row['cpu_us_per_delivery']:>10.1f} {row['client_us_per_delivery']:>9.1f} {row['machine_busy'] * 100:>6.0f} {row['peak_mib']:>9.1f}"
            f"  acked by {row['acks_s']:.2f} s, all received by {row['drain_s']:.2f} s"
            + (
                f"  (lost before resume: {row['lost_before_resume']})"
                if row["lost_before_resume"]
                else ""
            ),
            flush=True,
        )
    _print_ratios(results, sizes)


def _print_ratios(
    results: dict[tuple[str, int, str], list[dict[str, Any]]], sizes: list[int]
) -> None:
    """Burst deliveries per second as ratios of medians; each run's own ratio in brackets
    (runs of the same repetition ran one after the other)."""

    def ratio(top: str, bottom: str, size: int) -> None:
        over, under = results.get((top, size, "burst")), results.get((bottom, size, "burst"))
        if not over or not under:
            return
        median = statistics.median(r["deliveries_per_s"] for r in over) / statistics.median(
            r["deliveries_per_s"] for r in under
        )
        each = " ".join(
            f"{a['deliveries_per_s'] / b['deliveries_per_s']:.2f}"
            for a, b in zip(over, under, strict=False)
        )
        print(
            f"{top} / {bottom}, room of {size}, burst deliveries per second: {median:.2f}  (runs: {each})"
        )

    for size in sizes:
        ratio("daphnex2", "daphne", size)
        ratio("daphne", "raw", size)
        ratio("uvicorn", "raw", size)


if __name__ == "__main__":
    main()
