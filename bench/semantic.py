"""Second-stage latency: p50/p99 of the stage alone and of screen_thorough(), one pinned core.

    python bench/semantic.py [--repeat 5] [--data tests/unit/detection/fresh3*.jsonl ...]

Times, per message, with nothing cached between calls: the rules (`screen()`), the MiniLM
encoder alone (layers 1-6, one pass), the whole second stage (`semantic.assess()`: its own
normalisation, encoder, n-grams, linear model, nearest example) and the whole thorough screen
(`screen_thorough()`: rules + stage + merging). BLAS is held to one thread and the process
to one CPU. The model's one-off load time is printed too. Needs no Django.
"""

from __future__ import annotations

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_DATA = sorted((ROOT / "tests" / "unit" / "detection").glob("fresh*.jsonl"))


def percentiles(timings: list[int]) -> str:
    ms = sorted(t / 1e6 for t in timings)
    p50 = statistics.median(ms)
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    return f"p50 {p50:7.3f} ms   p99 {p99:7.3f} ms   max {ms[-1]:7.3f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--data", type=Path, nargs="*", default=DEFAULT_DATA)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    from moderation.detection import screen, screen_thorough, semantic

    started = time.perf_counter()
    stage = semantic.model()
    if stage is None:
        print("the second stage is not installed: nothing to time", file=sys.stderr)
        return 2
    load_s = time.perf_counter() - started
    texts = [
        json.loads(line)["text"]
        for path in args.data
        for line in path.open(encoding="utf-8")
        if line.strip()
    ]
    tokens = sorted(len(stage.encoder.tokens(t)) for t in texts)
    print(
        f"{len(texts)} messages x {args.repeat}, tokens p50 {tokens[len(tokens) // 2]} "
        f"max {tokens[-1]}; cpu {sorted(os.sched_getaffinity(0))}; "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}; model load {load_s:.2f} s"
    )
    runs: list[tuple[str, Callable[[str], object]]] = [
        ("rules: screen()", screen),
        ("encoder alone (layers 1-6)", lambda t: stage.encoder.encode_layers(t)),
        ("stage alone: semantic.assess()", semantic.assess),
        ("whole: screen_thorough()", screen_thorough),
    ]
    clock = time.perf_counter_ns
    for _, fn in runs:  # warm up
        for text in texts[:50]:
            fn(text)
    for name, fn in runs:
        timings = []
        for _ in range(args.repeat):
            for text in texts:
                begin = clock()
                fn(text)
                timings.append(clock() - begin)
        print(f"{name:32s} {percentiles(timings)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
