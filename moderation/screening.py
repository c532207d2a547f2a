"""Screening in the message path: the configured detector, wrapped so that it fails safe.

The detector is named by dotted path in ``MODERATION_DETECTOR`` (like Django's pluggable
backends) and loaded once. Whatever it raises, the message is held and escalated: a broken
detector must never let a crisis through unseen. Message text is never logged.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Screening:
    level: str
    categories: list[str] = field(default_factory=list)
    evidence: list[dict[str, Any]] = field(default_factory=list)
    method_detail: bool = False
    failed: bool = False

    @property
    def rule_ids(self) -> list[str]:
        return [e["rule"] for e in self.evidence]


@cache
def load_detector(path: str) -> Callable[..., Any]:
    detector: Callable[..., Any] = import_string(path)
    return detector


def screen_text(text: str, recent: Sequence[str] = (), *, detector: str | None = None) -> Screening:
    """Screen with the detector named by ``detector`` (default: MODERATION_DETECTOR)."""
    try:
        path = detector or settings.MODERATION_DETECTOR
        assessment = load_detector(path)(text, recent=tuple(recent))
        return Screening(
            level=str(
                assessment.level.value if hasattr(assessment.level, "value") else assessment.level
            ),
            categories=[str(getattr(c, "value", c)) for c in assessment.categories],
            evidence=[
                {
                    "rule": e.rule_id,
                    "text": e.text,
                    "start": e.start,
                    "end": e.end,
                    "recent": e.source is not None,
                }
                for e in assessment.evidence
            ],
            method_detail=bool(assessment.hold),
        )
    except Exception as exc:
        # Where it failed, but not the exception's message: that might quote the text.
        logger.error(
            "crisis detector failed (%s); holding and escalating the message\n%s",
            type(exc).__name__,
            "".join(traceback.format_tb(exc.__traceback__)),
        )
        return Screening(
            level="imminent",
            categories=[],
            evidence=[
                {"rule": "detector.failed", "text": "", "start": 0, "end": 0, "recent": False}
            ],
            failed=True,
        )
