"""Our own messages in other words (paraphrases.jsonl, heldout*.jsonl):
the generalisation check. They must stay at or above the floor the unseen set is judged
by (imminent_caught >= 0.95, imminent_recall >= 0.80, crisis_recall >= 0.90,
false_alarm_rate <= 0.05). See docs/moderation.md for how they were written and used."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.detection.test_dev_set_score import check, score_file

HERE = Path(__file__).resolve().parent
FLOOR = {
    "imminent_caught": (">=", 0.95),
    "imminent_recall": (">=", 0.80),
    "crisis_recall": (">=", 0.90),
    "false_alarm_rate": ("<=", 0.05),
}


OWN_SETS = [HERE / "paraphrases.jsonl", *sorted(HERE.glob("heldout*.jsonl"))]


@pytest.mark.parametrize("path", OWN_SETS, ids=[path.name for path in OWN_SETS])
def test_own_paraphrases_stay_above_the_unseen_floor(path: Path, tmp_path: Path) -> None:
    check(score_file(path, tmp_path), FLOOR)
