"""`screen_thorough()`: the rules, then the trained second stage, which may only raise.

`screen()` (the rules) stays the fast path the live chat calls for every message. This is the
slower, more sensitive look: the rules' assessment, raised (never lowered) to the level the
second stage (`semantic.assess`) gives, with the stage's evidence appended and its category
merged in. `hold` and `discounted` stay the rules'. When the stage is not installed it is the
rules' assessment unchanged (and one warning says so). See docs/moderation.md, "Second stage".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from moderation.detection import semantic
from moderation.detection.assessment import Assessment, Evidence, Level
from moderation.detection.detector import screen
from moderation.detection.lexicon import lexicon
from moderation.detection.normalise import normalise

log = logging.getLogger("moderation.detection")


@dataclass(frozen=True, slots=True)
class ModelEvidence(Evidence):
    """The second stage's evidence: the whole message (the model reads all of it), and a
    note with its probabilities and the nearest curated example (and, for a head that reads
    n-grams, those that weighed most).

    ``label()`` reads e.g. ``semantic.imminent:'...' (p=0.97 p_imminent=0.81; nearest
    imminent.attempt_under_way.1 (0.83) '...')``.
    """

    note: str = ""

    def label(self) -> str:
        return f"{Evidence.label(self)} ({self.note})"


# Why the rules set a match aside, for the reasons that say there is no present risk: said
# not to be so, or over.
_SET_ASIDE = frozenset({"negation", "past", "recovery"})
# Said outright not to be worrying ("nothing sinister", "not in a dark way").
_REASSURED = re.compile(
    r"\b(?:nothing (?:sinister|dark|to worry about)|not in a (?:dark|bad|sad|scary|worrying) way)\b"
)
# Dealing with an ex: blocking, telling them it is over, their late-night texts.
_EX = re.compile(
    r"\b(?:(?:blocked|unblocked|muted) (?:him|her|them|my ex|his number|her number)"
    r"|(?:told|texted) my ex\b|(?:my |an )?ex (?:texted|messaged|called|dmed|dmd))\b"
)


@cache
def _rule_levels() -> dict[str, Level]:
    return {rule.id: rule.level for rule in lexicon().rules}


def guard(rules: Assessment, text: str) -> str | None:
    """Why the second stage may not raise the rules' answer for `text`, or None.

    The stage reads words, not what the rules know about them, so it raises denials,
    finished stories and breakups built from crisis words (docs/moderation.md, "Round 35").
    These guards hold only where the rules kept nothing at high or above; the breakup guard
    that reads the text alone ("end it with him") is in `semantic`.

    - ``set_aside``: the rules read crisis language (a rule of level high or above) and set
      every such match aside as negated, past or over ("i'm not going to hurt myself, i'm
      going to hurt my wallet", "last year i was in hospital after wanting to end it").
    - ``reassured``: the writer says outright it is nothing worrying ("nothing sinister").
    - ``ex``: blocking an ex or answering their texts, with no rule signal at all.
    """
    if rules.level >= Level.HIGH:
        return None
    if rules.discounted:
        levels = _rule_levels()
        crisis = [
            reason
            for rule_id, _, reason in (item.rule_id.partition("~") for item in rules.discounted)
            if levels.get(rule_id, Level.NONE) >= Level.HIGH
        ]
        if crisis and all(reason in _SET_ASIDE for reason in crisis):
            return "set_aside"
    normalised = normalise(text).text
    if _REASSURED.search(normalised):
        return "reassured"
    if rules.level is Level.NONE and not rules.discounted and _EX.search(normalised):
        return "ex"
    return None


def combine(rules: Assessment, verdict: semantic.SemanticVerdict | None, text: str) -> Assessment:
    """`rules` raised by `verdict`: never lowered; evidence appended when the stage fired,
    unless a guard (`guard`) keeps the stage from raising."""
    if verdict is None or verdict.level < Level.HIGH or guard(rules, text) is not None:
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

    Costs about one MiniLM forward pass through six layers on top of `screen()` (p50 about 3-5
    ms on one core with the fast encoder, p99 over the 5 ms budget on some CPUs;
    docs/moderation.md, "Second stage", gives the measured p50/p99 and what was tried to cut
    it).
    """
    rules = screen(text, recent=recent)
    try:
        verdict = semantic.assess(text)
    except Exception:  # one odd message must not cost the rules' answer
        log.exception("semantic stage failed on one message; its rules' assessment stands")
        verdict = None
    return combine(rules, verdict, text)
