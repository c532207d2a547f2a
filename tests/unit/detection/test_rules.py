"""Table-driven tests: each rule, each evasion, hard negatives, recent messages, hold."""

from __future__ import annotations

import pytest

from moderation.detection import Assessment, Category, Level, screen
from moderation.detection.lexicon import LexiconError, _compile_context, _shared_patterns, lexicon
from tests.unit.detection.cases import EVASION_CASES, NEGATIVE_CASES, RULE_CASES


def _rules_in(assessment: Assessment) -> set[str]:
    return {item.rule_id for item in assessment.evidence}


@pytest.mark.parametrize(("text", "level", "rule_id"), RULE_CASES)
def test_rule_fires_with_its_level(text: str, level: str, rule_id: str | None) -> None:
    """Every rule has an example that sets the expected level and names the rule."""
    assessment = screen(text)
    assert assessment.level == Level(level), (text, assessment)
    if rule_id is not None:
        assert rule_id in _rules_in(assessment), (text, assessment.evidence_labels())


def test_every_rule_has_an_example() -> None:
    """A new rule comes with an example in cases.py (docs/moderation.md, 'adding a phrase')."""
    covered = {rule_id for _, _, rule_id in RULE_CASES}
    missing = [rule.id for rule in lexicon().rules if rule.id not in covered]
    assert not missing, f"rules without an example in tests/unit/detection/cases.py: {missing}"


@pytest.mark.parametrize(("text", "level"), EVASION_CASES)
def test_evasions_are_seen_through(text: str, level: str) -> None:
    """Leetspeak, masking, spacing, stretching, look-alikes, slang and emoji."""
    assert screen(text).level == Level(level), (text, screen(text))


@pytest.mark.parametrize("text", NEGATIVE_CASES)
def test_hard_negatives_raise_no_alarm(text: str) -> None:
    """Idioms, games, films, negation, recovery stories, questions: below high."""
    assessment = screen(text)
    assert assessment.level < Level.HIGH, (text, assessment.evidence_labels())


def test_recent_messages_raise_a_means_to_imminent() -> None:
    """'I have them all counted out' after 'I want to die' reads as imminent."""
    alone = screen("i have them all counted out")
    after = screen("i have them all counted out", recent=["some days are ok", "i want to die"])
    assert alone.level == Level.NONE
    assert after.level == Level.IMMINENT
    assert any(item.source == 1 for item in after.evidence)


def test_recent_messages_alone_do_not_flag_an_ordinary_message() -> None:
    assert screen("thanks, talk later", recent=["i want to die"]).level == Level.NONE


def test_goodbye_after_earlier_despair_is_imminent() -> None:
    assessment = screen("thank you all for everything. goodbye", recent=["i want to end it all"])
    assert assessment.level == Level.IMMINENT


def test_hold_for_method_detail_whatever_the_level() -> None:
    """Method detail is held even when the story is over; plain distress is not."""
    assert screen("the rope is ready").hold
    assert screen("been saving up my pills").hold
    assert not screen("i feel so alone tonight").hold
    past = screen("back in 2015 i swallowed the whole bottle of my meds")
    assert past.level == Level.NONE
    assert past.hold


def test_assessment_is_a_frozen_value_with_ordered_levels() -> None:
    assessment = screen("i want to die")
    with pytest.raises(AttributeError):
        assessment.level = Level.NONE  # type: ignore[misc]
    assert Level.NONE < Level.WATCH < Level.HIGH < Level.IMMINENT
    assert assessment.categories[0] is Category.SUICIDE
    assert assessment.evidence[0].text == "want to die"


def test_evidence_spans_point_into_the_original_text() -> None:
    """Spans are offsets of the message as written, even after normalisation."""
    text = "ok so... I w4nt to d!e tbh"
    assessment = screen(text)
    for item in assessment.evidence:
        assert text[item.start : item.end] == item.text
    assert any("d!e" in item.text for item in assessment.evidence)


def test_discounted_matches_are_explained() -> None:
    assessment = screen("i'm not suicidal")
    assert assessment.level == Level.NONE
    assert any(item.rule_id.endswith("~negation") for item in assessment.discounted)


def test_empty_and_odd_inputs() -> None:
    assert screen("").level == Level.NONE
    assert screen("   \n\t").level == Level.NONE
    assert screen("💀💀💀").level == Level.NONE
    assert screen("a" * 20000).level == Level.NONE


def test_an_unless_read_at_the_match_start_keeps_the_writer_as_subject() -> None:
    """`other_person` reads the words before a match; its `unless` (scope "match") is read at
    the match itself, so a clause about someone else that ends in the writer's own intent is
    the writer's, and the same words in someone else's mouth stay theirs."""
    mine = screen("when my husband goes on his night shift im ending it")
    assert mine.level >= Level.HIGH, mine
    assert "suicide.intent" in _rules_in(mine), mine
    theirs = screen("my sister says ill kill myself laughing at her jokes")
    assert theirs.level < Level.HIGH, theirs
    assert any(d.rule_id.endswith("~other_person") for d in theirs.discounted), theirs


def test_a_context_can_take_the_patterns_of_an_earlier_one() -> None:
    """`joke_soft` reads `joke`'s patterns (`patterns_from`), so the two cannot drift apart."""
    contexts = lexicon().contexts
    assert contexts["joke_soft"].pattern == contexts["joke"].pattern
    assert contexts["joke_soft"].unless != contexts["joke"].unless
    joke = {"id": "a", "patterns": ["x"]}
    shared = _shared_patterns([joke, {"id": "b", "patterns_from": "a", "unless": ["y"]}])
    assert shared[1] == {"id": "b", "patterns_from": "a", "unless": ["y"], "patterns": ["x"]}
    for bad in (
        [{"id": "b", "patterns_from": "a"}, joke],  # a later context
        [joke, {"id": "b", "patterns_from": "a", "patterns": ["z"]}],  # both
        [joke, {"id": "b", "patterns_from": "a"}, {"id": "c", "patterns_from": "b"}],  # a chain
    ):
        with pytest.raises(LexiconError, match="patterns_from"):
            _shared_patterns(bad)


def test_an_unknown_unless_scope_is_refused() -> None:
    entry = {"id": "x", "scope": "before", "patterns": ["a"], "unless": ["b"]}
    assert _compile_context({**entry, "unless_scope": "match"}, {}).unless_scope == "match"
    with pytest.raises(LexiconError, match="unknown unless_scope"):
        _compile_context({**entry, "unless_scope": "paragraph"}, {})
