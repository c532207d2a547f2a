"""`python manage.py classify_messages`, as CONTRACT section 3 says: JSON lines in, JSON
lines out in the same order, bad lines answered with an error line, no database or Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _run(stdin: str) -> list[dict[str, object]]:
    env = dict(os.environ)
    # Point the database and Redis at ports nothing listens on: the command must not care.
    env["DATABASE_URL"] = "postgres://nobody:nothing@127.0.0.1:9/none"
    env["REDIS_URL"] = "redis://127.0.0.1:9/0"
    result = subprocess.run(
        [sys.executable, "manage.py", "classify_messages"],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_classify_messages_answers_every_line_in_order() -> None:
    lines = [
        {"id": "a", "text": "i wish i could just not wake up"},
        "{not json",
        {"id": "b", "text": "this exam is killing me"},
        ["a", "list"],
        {"id": "c"},
        {"id": 4, "text": "i have the pills here, tonight is the night"},
        {"id": "é", "text": "i'm so lonely lately 😔"},
    ]
    stdin = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    out = _run(stdin + "\n\n")
    assert [item["id"] for item in out] == ["a", None, "b", None, "c", 4, "é"]
    by_id = {item["id"]: item for item in out if "error" not in item}
    assert by_id["a"]["level"] == "high"
    assert by_id["a"]["categories"] == ["suicide"]
    assert by_id["a"]["evidence"]
    quiet = {"id": "b", "level": "none", "categories": [], "evidence": [], "hold": False}
    assert by_id["b"] == quiet
    assert by_id[4]["level"] == "imminent"
    assert by_id["é"]["level"] == "watch"
    errors = [item for item in out if "error" in item]
    assert len(errors) == 3
    assert all(isinstance(item["error"], str) and item["error"] for item in errors)


def test_classify_messages_output_is_what_the_scorer_reads() -> None:
    """Output that shared/moderation/score.py reads as it is."""
    out = _run(json.dumps({"id": "d1", "text": "took way too much and i can't feel my hands"}))
    assert out == [
        {
            "id": "d1",
            "level": "imminent",
            "categories": ["substance"],
            "evidence": out[0]["evidence"],
            "hold": False,
        }
    ]
