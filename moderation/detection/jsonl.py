"""JSON lines in, JSON lines out: the logic of `manage.py classify_messages`, without Django.

Each input line is an object ``{"id": ..., "text": "...", "recent": ["...", ...]}`` ("recent"
is optional: the sender's previous messages, oldest first). Each output line, in the same
order, is ``{"id", "level", "categories", "evidence", "hold"}``; ``evidence`` names the rules
that fired and the words they fired on (``suicide.wish:'want to die'``). A line that cannot
be read gets ``{"id": <id or null>, "error": "..."}`` and the run goes on. Blank lines are
skipped: they carry no message, so they get no answer.

Messages are screened by `screen_thorough` (the rules, raised by the trained second stage
when it is installed; the rules alone, with one warning, when it is not).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from moderation.detection.assessment import Assessment
from moderation.detection.thorough import screen_thorough

Screener = Callable[[str, Sequence[str]], Assessment]


def _error(message_id: Any, reason: str) -> str:
    return json.dumps({"id": message_id, "error": reason}, ensure_ascii=False)


def classify_line(line: str, screener: Screener = screen_thorough) -> str:
    """Answer one (non-blank) input line."""
    try:
        item = json.loads(line)
    except json.JSONDecodeError as error:
        return _error(None, f"invalid JSON: {error.msg} at column {error.colno}")
    if not isinstance(item, dict):
        return _error(None, 'expected a JSON object with "id" and "text"')
    message_id = item.get("id")
    text = item.get("text")
    if not isinstance(text, str):
        return _error(message_id, 'missing or non-string "text"')
    recent = item.get("recent", [])
    if not isinstance(recent, list) or not all(isinstance(r, str) for r in recent):
        return _error(message_id, '"recent" must be a list of strings')
    assessment = screener(text, recent)
    return json.dumps(
        {
            "id": message_id,
            "level": assessment.level.value,
            "categories": [category.value for category in assessment.categories],
            "evidence": assessment.evidence_labels(),
            "hold": assessment.hold,
        },
        ensure_ascii=False,
    )


def classify_lines(lines: Iterable[str], screener: Screener = screen_thorough) -> Iterator[str]:
    """One output line per non-blank input line, in order, without a trailing newline."""
    for line in lines:
        if line.strip():
            yield classify_line(line, screener)
