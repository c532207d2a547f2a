"""Screening speed: messages per second and microseconds per message, one core, in process.

    python bench/detector.py [--repeat 50] [--data ../shared/moderation/crisis-dev.jsonl]

Screens the development set `--repeat` times, in order, timing every call to `screen()`,
with nothing cached between calls (each call normalises and matches from scratch). Pins
the process to one CPU where the OS allows it. Needs no Django.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# The team's shared set when it sits beside the clone, else the copy the tests keep.
DEFAULT_DATA = next(
    (
        path
        for path in (
            ROOT.parent / "shared" / "moderation" / "crisis-dev.jsonl",
            ROOT / "tests" / "data" / "shared-moderation" / "crisis-dev.jsonl",
        )
        if path.exists()
    ),
    ROOT / "tests" / "data" / "shared-moderation" / "crisis-dev.jsonl",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    if not args.data.exists():
        print(f"no data at {args.data}", file=sys.stderr)
        return 2

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    started = time.perf_counter()
    from moderation.detection import screen  # compiles the lexicon

    compile_ms = (time.perf_counter() - started) * 1000
    with args.data.open(encoding="utf-8") as handle:
        texts = [json.loads(line)["text"] for line in handle if line.strip()]
    for text in texts:  # warm up
        screen(text)

    clock = time.perf_counter_ns
    timings: list[int] = []
    begin = clock()
    for _ in range(args.repeat):
        for text in texts:
            before = clock()
            screen(text)
            timings.append(clock() - before)
    elapsed_s = (clock() - begin) / 1e9

    timings.sort()
    count = len(timings)
    print(f"detector: rules only, {len(texts)} messages x {args.repeat} = {count} calls, one core")
    print(f"import + lexicon compile: {compile_ms:.0f} ms")
    print(f"messages per second: {count / elapsed_s:,.0f}")
    print(
        "us per message: "
        f"mean {statistics.fmean(timings) / 1000:.1f}, "
        f"p50 {timings[count // 2] / 1000:.1f}, "
        f"p99 {timings[min(count - 1, int(count * 0.99))] / 1000:.1f}, "
        f"max {timings[-1] / 1000:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
