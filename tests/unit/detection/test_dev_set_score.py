"""The development set, scored by the project's scorer: no change may lose recall quietly.

Targets (issue 3): imminent_caught >= 0.99, imminent_recall >= 0.90, crisis_recall >= 0.95,
false_alarm_rate <= 0.03. The set and its scorer are read from ../shared/moderation when
that directory sits beside the repository (the team's copy, authoritative), otherwise from the
copy kept in tests/data/shared-moderation/ so that a clean clone anywhere runs the same check.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from moderation.detection import Assessment, screen

Screener = Callable[[str, Sequence[str]], Assessment]

ROOT = Path(__file__).resolve().parents[3]
SHARED_COPIES = (
    ROOT.parent / "shared" / "moderation",
    ROOT / "tests" / "data" / "shared-moderation",
)
SHARED = next((path for path in SHARED_COPIES if (path / "score.py").exists()), SHARED_COPIES[-1])
TARGETS = {
    "imminent_caught": (">=", 0.99),
    "imminent_recall": (">=", 0.90),
    "crisis_recall": (">=", 0.95),
    "false_alarm_rate": ("<=", 0.03),
}


def score_file(gold: Path, tmp_path: Path, screener: Screener = screen) -> dict[str, float]:
    """Screen every message of `gold` with `screener` (the rules' `screen` unless told), score
    the predictions with score.py, parse its figures."""
    scorer = SHARED / "score.py"
    if not gold.exists() or not scorer.exists():
        pytest.fail(f"missing {gold} or {scorer}")
    predictions = tmp_path / f"{gold.stem}.predictions.jsonl"
    with gold.open(encoding="utf-8") as source, predictions.open("w", encoding="utf-8") as out:
        for line in source:
            if line.strip():
                item = json.loads(line)
                level = screener(item["text"], ()).level.value
                out.write(json.dumps({"id": item["id"], "level": level}) + "\n")
    result = subprocess.run(
        [sys.executable, str(scorer), str(gold), str(predictions)],
        capture_output=True,
        text=True,
        check=True,
    )
    figures = dict(re.findall(r"^(\w+): ([0-9.]+)$", result.stdout, flags=re.MULTILINE))
    print(result.stdout)
    return {name: float(value) for name, value in figures.items()}


def check(figures: dict[str, float], targets: dict[str, tuple[str, float]]) -> None:
    failures = []
    for name, (op, bound) in targets.items():
        value = figures[name]
        if (op == ">=" and value < bound) or (op == "<=" and value > bound):
            failures.append(f"{name} = {value:.3f}, target {op} {bound}")
    assert not failures, "; ".join(failures)


def test_the_kept_copy_matches_the_shared_set() -> None:
    """tests/data/shared-moderation is a copy, never a fork: where ../shared exists, they agree."""
    team, kept = SHARED_COPIES
    if not team.exists():
        pytest.skip("../shared/moderation is not beside this clone; the kept copy is used alone")
    for name in ("crisis-dev.jsonl", "score.py"):
        assert (team / name).read_bytes() == (kept / name).read_bytes(), name


def test_dev_set_meets_targets(tmp_path: Path) -> None:
    figures = score_file(SHARED / "crisis-dev.jsonl", tmp_path)
    assert figures["messages"] == 200
    check(figures, TARGETS)
