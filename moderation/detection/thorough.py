"""`screen_thorough()`: the rules, then the trained second stage, which may only raise.

`screen()` (the rules) stays the fast path the live chat calls for every message. This is the
slower, more sensitive look: the rules' assessment, raised (never lowered) to the level the
second stage (`semantic.assess`) gives, with the stage's evidence appended and its category
merged in. `hold` and `discounted` stay the rules'. When the stage is not installed it is the
rules' assessment unchanged (and one warning says so). See docs/moderation.md, "Second stage".
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from moderation.detection import semantic
from moderation.detection.assessment import Assessment, Evidence, Level
from moderation.detection.detector import screen

log = logging.getLogger("moderation.detection")


@dataclass(frozen=True, slots=True)
class ModelEvidence(Evidence):
    """The second stage's evidence: the whole message (the model reads all of it), and a
    note with its probability, the nearest curated example and the n-grams that weighed most.

    ``label()`` reads e.g. ``semantic.imminent:'...' (p=0.97 p_imminent=0.81; nearest
    imminent.attempt_under_way.1 (0.83) '...'; n-grams 'took', |bott|)``.
    """

    note: str = ""

    def label(self) -> str:
        return f"{Evidence.label(self)} ({self.note})"


def combine(rules: Assessment, verdict: semantic.SemanticVerdict | None, text: str) -> Assessment:
    """`rules` raised by `verdict`: never lowered; evidence appended when the stage fired."""
    if verdict is None or verdict.level < Level.HIGH:
        return rules
    start = len(text) - len(text.lstrip())
    end = len(text.rstrip())
    evidence = ModelEvidence(
        rule_id=verdict.rule_id,
        text=text[start:end],
        start=start,
        end=end,
        note=verdict.explain(),
    )
    if verdict.level > rules.level:
        level = verdict.level
        categories = tuple(dict.fromkeys((*verdict.categories, *rules.categories)))
    else:  # the rules already say as much: the stage only corroborates
        level = rules.level
        categories = rules.categories
    return Assessment(
        level=level,
        categories=categories,
        hold=rules.hold,
        evidence=(*rules.evidence, evidence),
        discounted=rules.discounted,
    )


def screen_thorough(text: str, recent: Sequence[str] = ()) -> Assessment:
    """The rules' assessment of `text`, raised (never lowered) by the second stage.

    Costs about one MiniLM forward pass through six layers on top of `screen()` (about 10 ms
    per message on one core, over the 5 ms send-path budget; docs/moderation.md, "Second
    stage", gives the measured p50/p99 and what was tried to cut it).
    """
    rules = screen(text, recent=recent)
    try:
        verdict = semantic.assess(text)
    except Exception:  # one odd message must not cost the rules' answer
        log.exception("semantic stage failed on one message; its rules' assessment stands")
        verdict = None
    return combine(rules, verdict, text)
