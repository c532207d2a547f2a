"""The same message gets the same assessment in every process.

Python salts string hashes per process (PYTHONHASHSEED), so anything that iterates a set
or dict built from strings can change order from one run to the next. The detector's
evidence order, and through it which signal completes a combination (and so the hold flag
and the category), once depended on such an order.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DEV_SET = ROOT / "tests" / "data" / "shared-moderation" / "crisis-dev.jsonl"

_SCRIPT = """
import json, sys
from moderation.detection import screen
for line in open(sys.argv[1], encoding="utf-8"):
    if line.strip():
        a = screen(json.loads(line)["text"])
        print(a.level, a.categories, a.hold, a.evidence, a.discounted)
"""


def _run(seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    return subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(DEV_SET)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_assessments_do_not_depend_on_the_hash_seed() -> None:
    first = _run("1")
    assert first.count("\n") >= 200
    assert _run("2") == first
    assert _run("3") == first
