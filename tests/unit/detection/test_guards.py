"""The guards that keep the second stage from raising what the rules know is harmless
(thorough.guard; docs/moderation.md, "Round 35"). They read the rules' assessment, so they
are tested here without the model: a made-up verdict at imminent stands in for the stage."""

from __future__ import annotations

import pytest

from moderation.detection import Category, Level, screen
from moderation.detection.semantic import Example, SemanticVerdict
from moderation.detection.thorough import combine, guard

GUARDED = [
    # set_aside: crisis words the rules set aside as negated, past or over
    ("i would never hurt myself, relax, i am just tired of group projects", "set_aside"),
    ("not suicidal at all, just venting about my landlord", "set_aside"),
    ("two years ago i tried to end my life. now i run a support group", "set_aside"),
    ("i'm not going to kill myself, i'm going to kill this essay", "set_aside"),
    ("i have no thoughts of suicide, my doctor asked and i said no", "set_aside"),
    # reassured: said outright to be nothing worrying
    ("clearing out my flat this weekend, nothing sinister, just moving", "reassured"),
    (
        "writing letters to everyone i love, not in a dark way, it is a gratitude exercise",
        "reassured",
    ),
    # ex: dealing with an ex, no rule signal at all
    ("my ex messaged me at midnight again, blocked her and slept fine", "ex"),
    ("told my ex we are done for real this time", "ex"),
]

NOT_GUARDED = [
    "my friend says she wants to die tonight",  # set aside as someone else's: the stage may look
    "i am not okay. i want to die",  # the rules kept it: nothing to guard
    "blocked him. i cant do this anymore, i have the pills here",
    "i'm not going to lie, i want to die",  # "not gonna lie" is no negation
    "i'm not suicidal. i have the pills counted out and tonight is the night",
    "everything is arranged for tomorrow and i feel calm about it now",
]


def _verdict(level: Level) -> SemanticVerdict:
    example = Example(id=f"{level.value}.test.1", text="a test", level=level, category=None)
    return SemanticVerdict(
        level=level,
        categories=(Category.SUICIDE,),
        p_crisis=0.99,
        p_imminent=0.99 if level is Level.IMMINENT else 0.01,
        nearest=example,
        similarity=0.5,
        ngrams=(),
    )


@pytest.mark.parametrize(("text", "reason"), GUARDED)
def test_the_stage_may_not_raise_what_the_rules_set_aside(text: str, reason: str) -> None:
    """A guarded message keeps the rules' answer even when the stage says imminent."""
    rules = screen(text)
    assert guard(rules, text) == reason, (text, rules.evidence_labels(), rules.discounted)
    assert combine(rules, _verdict(Level.IMMINENT), text) is rules


@pytest.mark.parametrize("text", NOT_GUARDED)
def test_the_stage_may_still_raise_everything_else(text: str) -> None:
    rules = screen(text)
    assert guard(rules, text) is None, (text, rules.discounted)
    raised = combine(rules, _verdict(Level.IMMINENT), text)
    assert raised.level is Level.IMMINENT
    assert raised.evidence[-1].rule_id == "semantic.imminent"
