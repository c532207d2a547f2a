"""classify_lines: the logic of `manage.py classify_messages`, without Django."""

from __future__ import annotations

import json

from moderation.detection.jsonl import classify_lines


def test_answers_in_order_and_survives_bad_lines() -> None:
    lines = [
        json.dumps({"id": 1, "text": "i want to die"}),
        "this is not json",
        "",
        json.dumps([1, 2, 3]),
        json.dumps({"id": "x"}),
        json.dumps({"id": "y", "text": 42}),
        json.dumps({"id": 7, "text": "mondays are killing me"}),
        json.dumps({"id": 8, "text": "i have them all counted out", "recent": ["i want to die"]}),
        json.dumps({"id": 9, "text": "hi", "recent": "nope"}),
    ]
    out = [json.loads(line) for line in classify_lines(lines)]
    assert [item.get("id") for item in out] == [1, None, None, "x", "y", 7, 8, 9]
    assert out[0]["level"] == "high"
    assert out[0]["categories"] == ["suicide"]
    assert out[0]["evidence"]
    assert out[0]["evidence"][0].startswith("suicide.")
    assert out[0]["hold"] is False
    assert "error" in out[1]
    assert "error" in out[2]
    assert "error" in out[3]
    assert "error" in out[4]
    assert out[5] == {"id": 7, "level": "none", "categories": [], "evidence": [], "hold": False}
    assert out[6]["level"] == "imminent"
    assert "error" in out[7]


def test_non_ascii_text_round_trips() -> None:
    (line,) = classify_lines([json.dumps({"id": "é", "text": "je suis là 💀"})])
    assert json.loads(line)["id"] == "é"
