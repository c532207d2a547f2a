"""Every performance figure in one run: the fan-out comparison, then the other figures.

    DATABASE_URL=postgres://... REDIS_URL=redis://... python bench/suite.py [--quick]

Runs, one after the other on the same machine (so that their figures can be compared):
bench/fanout.py (the product under daphne, under uvicorn and as two daphne processes,
against a raw `websockets` broadcast server, rooms of 10, 100 and 300, burst and steady),
bench/idle.py (idle sockets one daphne process holds, memory per socket), bench/store.py
(messages stored per second with seq allocation), bench/detector.py (screening speed, one
core) and bench/escalation.py (message.send to escalation.new at an on-call socket with a
busy room alongside). Each prints its own table; docs/performance.md keeps a run of it.
``--quick`` runs smaller versions, for a check that everything still works.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

FULL = [
    [
        "fanout.py",
        "--sizes",
        "10,100,300",
        "--servers",
        "raw,daphne,uvicorn,daphnex2",
        "--repeat",
        "3",
    ],
    ["idle.py", "--sockets", "5000"],
    ["store.py", "--messages", "2000", "--writers", "8"],
    ["detector.py"],
    ["escalation.py", "--chatters", "100", "--room-rate", "10", "--samples", "40"],
]
QUICK = [
    ["fanout.py", "--sizes", "10", "--servers", "raw,daphne,uvicorn", "--modes", "burst"],
    ["idle.py", "--sockets", "200"],
    ["store.py", "--messages", "200", "--writers", "4"],
    ["detector.py", "--repeat", "5"],
    ["escalation.py", "--chatters", "10", "--room-rate", "5", "--samples", "5"],
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    failed = []
    for command in QUICK if args.quick else FULL:
        print(f"\n=== python bench/{' '.join(command)}", flush=True)
        started = time.monotonic()
        done = subprocess.run([sys.executable, str(HERE / command[0]), *command[1:]], check=False)
        print(f"=== {command[0]}: exit {done.returncode} in {time.monotonic() - started:.0f} s")
        if done.returncode != 0:
            failed.append(command[0])
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
