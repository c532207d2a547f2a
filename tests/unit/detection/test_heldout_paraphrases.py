"""Our own messages in other words (paraphrases.jsonl, heldout.jsonl, heldout2.jsonl):
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


@pytest.mark.parametrize(
    "name",
    [
        "paraphrases.jsonl",
        "heldout.jsonl",
        "heldout2.jsonl",
        "heldout3.jsonl",
        "heldout4.jsonl",
        "heldout5.jsonl",
    ],
)
def test_own_paraphrases_stay_above_the_unseen_floor(name: str, tmp_path: Path) -> None:
    check(score_file(HERE / name, tmp_path), FLOOR)
