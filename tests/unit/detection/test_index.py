"""The word index is only a shortcut: it must never lose a match that a full scan finds."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from moderation.detection.detector import _Context, _found, _scan, _search_word, _Signal
from moderation.detection.lexicon import Rule, lexicon
from moderation.detection.normalise import normalise, tokens
from tests.unit.detection.cases import EVASION_CASES, NEGATIVE_CASES, RULE_CASES

HERE = Path(__file__).resolve().parent
OWN_SETS = [HERE / "paraphrases.jsonl", *sorted(HERE.glob("heldout*.jsonl"))]


def _texts() -> list[str]:
    texts = [text for text, _, _ in RULE_CASES] + [text for text, _ in EVASION_CASES]
    texts += NEGATIVE_CASES
    for path in OWN_SETS:
        with path.open(encoding="utf-8") as handle:
            texts += [json.loads(line)["text"] for line in handle if line.strip()]
    return texts


@lru_cache(maxsize=1)
def _as_written() -> list[tuple[re.Pattern[str], Rule]]:
    """Each pattern as written, compiled by re itself: the scanner's compiled form
    (lexicon._factored) must find the same."""
    matcher = lexicon().matcher
    return [
        (re.compile(source), rule)
        for source, (_, rule) in zip(matcher.sources, matcher.patterns, strict=True)
    ]


def _full_scan(text: str) -> set[tuple[str, int, int]]:
    found = set()
    for regex, rule in _as_written():
        match = regex.search(text)
        while match is not None:
            start, end = match.span()
            if not start or not text[start - 1].isalnum():
                found.add((rule.id, start, end))
                match = regex.search(text, end if end > start else start + 1)
            else:  # not at a word start: look again from the next character
                match = regex.search(text, start + 1)
    return found


def test_indexed_scan_finds_what_a_full_scan_finds() -> None:
    lex = lexicon()
    for text in _texts():
        norm = normalise(text).text
        found: list[_Signal] = []
        _scan(lex, norm, tokens(norm), found)
        indexed = {(s.rule.id, s.start, s.end) for s in found}
        assert _full_scan(norm) == indexed, text


def test_patterns_have_no_capturing_groups_and_compile() -> None:
    for regex, _ in lexicon().matcher.patterns:
        assert regex.groups == 0
        assert isinstance(regex, re.Pattern)


def test_context_tests_find_what_the_whole_context_pattern_finds() -> None:
    """A context is searched by the options of its pattern whose words the message has
    (lexicon._context_tests, the gate): whether it matches at a word start of a span must
    be what the whole pattern says, for the message and for each of its sentences."""
    lex = lexicon()
    assert lex.gate is not None
    for text in _texts():
        norm = normalise(text).text
        live_words = _scan(lex, norm, tokens(norm), [])
        facts = _Context(norm, live_words, lex.gate.regexes)
        spans = [(0, len(norm))]
        spans += [facts.sentence(m.start()) for m in re.finditer(r"\S+", norm)]
        for context in lex.contexts.values():
            for whole, mask in (
                (context.pattern, context.mask),
                (context.unless, context.unless_mask),
            ):
                if whole is None:
                    continue
                for start, stop in dict.fromkeys(spans):
                    expected = _search_word(whole, norm, start, stop) is not None
                    assert _found(facts, mask, start, stop) == expected, (context.id, text)
