"""`screen()`: text in, `Assessment` out. Pure: no I/O, no globals that change.

How a message is judged (docs/moderation.md has the long form):

1. Normalise the text (normalise.py).
2. Scan it with two compiled matchers: risk signals (rules with a level of their own) and
   cues (times, means, places, goodbyes, resolve) that only count in combinations.
3. Set aside matches that their context explains away: negation, someone else as the
   subject, a hypothetical or reported question, a quotation, a clearly past story, a
   joke, a game, a film. Which contexts apply is part of each rule's data.
4. The level is the highest of the kept signals and of the combinations (lexicon.toml
   [[combo]]) whose two sides both occur, one of them possibly in the sender's recent
   messages.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from moderation.detection.assessment import NO_RISK, Assessment, Category, Evidence, Level
from moderation.detection.lexicon import ContextRule, Lexicon, Matcher, Rule, lexicon
from moderation.detection.normalise import Normalised, normalise

# How many of the sender's recent messages are read, newest last.
RECENT_LIMIT = 5

_CLAUSE_BREAK = re.compile(r"[,.;:!?\n()]|\b(?:but|though|although|however|yet)\b")
_SENTENCE_BREAK = re.compile(r"[.!?\n]+")
_QUOTE = re.compile(
    r"""(?:^|(?<=[\s(:]))(["'])((?:(?!\1).|(?<=[a-z])'(?=[a-z])){2,120}?)\1(?=[\s.,!?;:)]|$)"""
)
_BEFORE_WINDOW = 60


@dataclass(frozen=True, slots=True)
class _Signal:
    rule: Rule
    start: int
    end: int
    capped: bool  # a context capped it at watch: counts as watch, never in combinations

    @property
    def level(self) -> Level:
        return Level.WATCH if self.capped and self.rule.level > Level.WATCH else self.rule.level


@dataclass(frozen=True, slots=True)
class _Analysis:
    normalised: Normalised
    kept: tuple[_Signal, ...]
    discounted: tuple[tuple[_Signal, str], ...]


class _Context:
    """Lazily computed facts about one normalised message, shared by its signals."""

    __slots__ = ("_clauses", "_message_hits", "_quotes", "_sentences", "memo", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._clauses: list[int] | None = None
        self._sentences: list[tuple[int, int]] | None = None
        self._quotes: list[tuple[int, int]] | None = None
        self._message_hits: dict[str, bool] = {}
        self.memo: dict[tuple[str, int], bool] = {}

    def clause_start(self, pos: int) -> int:
        if self._clauses is None:
            self._clauses = [m.end() for m in _CLAUSE_BREAK.finditer(self.text)]
        start = 0
        for boundary in self._clauses:
            if boundary > pos:
                break
            start = boundary
        return start

    def sentence(self, pos: int) -> tuple[int, int]:
        if self._sentences is None:
            spans = []
            last = 0
            for match in _SENTENCE_BREAK.finditer(self.text):
                spans.append((last, match.end()))
                last = match.end()
            spans.append((last, len(self.text)))
            self._sentences = spans
        for start, end in self._sentences:
            if start <= pos < end:
                return start, end
        return 0, len(self.text)

    def in_quote(self, start: int, end: int) -> bool:
        if self._quotes is None:
            if '"' not in self.text and "'" not in self.text:
                self._quotes = []
                return False
            self._quotes = [m.span(2) for m in _QUOTE.finditer(self.text)]
        return any(q_start <= start and end <= q_end for q_start, q_end in self._quotes)

    def message_has(self, context: ContextRule) -> bool:
        hit = self._message_hits.get(context.id)
        if hit is None:
            hit = bool(context.pattern and context.pattern.search(self.text))
            if hit and context.unless is not None and context.unless_scope == "message":
                hit = not context.unless.search(self.text)
            self._message_hits[context.id] = hit
        return hit


def _applies(context: ContextRule, signal: _Signal, facts: _Context) -> bool:
    scope = context.scope
    if scope == "quote":
        return facts.in_quote(signal.start, signal.end)
    if scope == "message":
        return facts.message_has(context) and not _unless(context, signal, facts)
    text = facts.text
    if scope == "before":
        start = max(facts.clause_start(signal.start), signal.start - _BEFORE_WINDOW)
        if context.pattern is None or not context.pattern.search(text, start, signal.start):
            return False
        return not _unless(context, signal, facts)
    s_start, s_end = facts.sentence(signal.start)
    key = (context.id, s_start)
    hit = facts.memo.get(key)
    if hit is None:
        hit = bool(context.pattern and context.pattern.search(text, s_start, s_end))
        hit = hit and not _unless(context, signal, facts)
        facts.memo[key] = hit
    return hit


def _unless(context: ContextRule, signal: _Signal, facts: _Context) -> bool:
    if context.unless is None or context.unless_scope == "message":
        return False
    s_start, s_end = facts.sentence(signal.start)
    return context.unless.search(facts.text, s_start, s_end) is not None


_WORD = re.compile(r"\w\w+")


def _scan(matcher: Matcher, text: str, keys: set[str], found: list[_Signal]) -> None:
    """Search for the patterns whose needed words the text has, each once."""
    patterns = matcher.patterns
    index = matcher.index
    candidates: set[int] = set(matcher.always)
    for key in keys:
        ids = index.get(key)
        if ids is not None:
            candidates.update(ids)
    for number in candidates:
        regex, rule = patterns[number]
        if regex.search(text) is None:  # the usual case, and the cheapest question
            continue
        for match in regex.finditer(text):
            start = match.start()
            if start and text[start - 1].isalnum():
                continue  # patterns match from the start of a word only
            found.append(_Signal(rule, start, match.end(), False))


def _analyse(text: str, lex: Lexicon, recent: bool = False) -> _Analysis:
    normalised = normalise(text)
    norm = normalised.text
    found: list[_Signal] = []
    keys = {word[:3] for word in _WORD.findall(norm)}
    _scan(lex.signals, norm, keys, found)
    _scan(lex.cues, norm, keys, found)
    if not found:
        return _Analysis(normalised, (), ())
    facts = _Context(norm)
    kept: list[_Signal] = []
    discounted: list[tuple[_Signal, str]] = []
    risk = [signal for signal in found if signal.rule.rank]
    cues = [signal for signal in found if not signal.rule.rank]
    _judge(risk, lex, facts, kept, discounted)
    if cues and (recent or _combo_possible(lex, risk, cues)):
        _judge(cues, lex, facts, kept, discounted)
    return _Analysis(normalised, tuple(kept), tuple(discounted))


def _combo_possible(lex: Lexicon, risk: list[_Signal], cues: list[_Signal]) -> bool:
    """Whether the cues found could complete a combination (else their context is moot)."""
    tags: set[str] = set()
    for signal in risk:
        tags.update(signal.rule.tags)
    cue_tags: set[str] = set()
    for signal in cues:
        cue_tags.update(signal.rule.tags)
    every = tags | cue_tags
    return any(
        combo.first & every and combo.second & cue_tags or combo.second & every and combo.first & cue_tags
        for combo in lex.combos
    )


def _judge(
    signals: list[_Signal],
    lex: Lexicon,
    facts: _Context,
    kept: list[_Signal],
    discounted: list[tuple[_Signal, str]],
) -> None:
    for signal in signals:
        reason = None
        capped = False
        for context in lex.rule_contexts[signal.rule.id]:
            if _applies(context, signal, facts):
                if context.effect == "cap_watch":
                    capped = True
                    continue
                reason = context.id
                break
        if reason is not None:
            discounted.append((signal, reason))
        elif capped:
            kept.append(_Signal(signal.rule, signal.start, signal.end, True))
        else:
            kept.append(signal)


@lru_cache(maxsize=2048)
def _analyse_recent(text: str) -> _Analysis:
    # A sender's recent messages come back with every new message: analyse each once.
    return _analyse(text, lexicon(), True)


def _evidence(signal: _Signal, normalised: Normalised, rule_id: str, source: int | None) -> Evidence:
    start, end = normalised.to_original(signal.start, signal.end)
    return Evidence(rule_id, normalised.original[start:end], start, end, source)


def screen(text: str, recent: Sequence[str] = ()) -> Assessment:
    """Screen one chat message.

    `recent` is the sender's last few messages in the room, oldest first; they can raise
    this message's level (a time or means after an earlier wish to die) but are not
    judged again themselves.
    """
    lex = lexicon()
    recent_tail = tuple(recent[-RECENT_LIMIT:]) if recent else ()
    analysis = _analyse(text, lex, bool(recent_tail))
    if not analysis.kept and not analysis.discounted:
        return NO_RISK
    normalised = analysis.normalised

    best_level = Level.NONE
    best_category: Category | None = None
    deciders: list[Evidence] = []
    categories: list[tuple[Level, Category]] = []
    hold = False
    for signal in analysis.kept:
        level = signal.level
        if level > Level.NONE:
            categories.append((level, signal.rule.category))
            if signal.rule.hold and level >= Level.HIGH:
                hold = True
        if level > best_level:
            best_level, best_category = level, signal.rule.category

    # Combinations: both sides in this message, or the first in a recent message.
    recent_kept: list[tuple[int, _Signal, Normalised]] = []
    if recent_tail:
        offset = len(recent) - len(recent_tail)
        for index, earlier in enumerate(recent_tail):
            earlier_analysis = _analyse_recent(earlier)
            for signal in earlier_analysis.kept:
                if not signal.capped:
                    recent_kept.append((offset + index, signal, earlier_analysis.normalised))
    combo_evidence: list[Evidence] = []
    for combo in lex.combos:
        if combo.level <= best_level and combo_evidence:
            continue
        seconds = [s for s in analysis.kept if not s.capped and s.rule.tags & combo.second]
        if not seconds:
            continue
        pair = next(
            (
                (f, s)
                for s in seconds
                for f in analysis.kept
                if f is not s and not f.capped and f.rule.tags & combo.first
            ),
            None,
        )
        first, second = pair if pair is not None else (None, seconds[0])
        first_evidence: Evidence | None = None
        if first is not None:
            first_evidence = _evidence(first, normalised, first.rule.id, None)
            first_category = first.rule.category
            first_rule = first.rule
        elif combo.recent and recent_kept:
            match = next(
                ((i, s, n) for i, s, n in recent_kept if s.rule.tags & combo.first), None
            )
            if match is None:
                continue
            index, earlier, earlier_norm = match
            first_evidence = _evidence(earlier, earlier_norm, earlier.rule.id, index)
            first_category = earlier.rule.category
            first_rule = earlier.rule
        else:
            continue
        if combo.level > best_level or not combo_evidence:
            second_evidence = _evidence(second, normalised, second.rule.id, None)
            start, end = second_evidence.start, second_evidence.end
            combo_evidence = [
                Evidence(combo.id, normalised.original[start:end], start, end),
                first_evidence,
                second_evidence,
            ]
            if combo.level > best_level:
                best_level, best_category = combo.level, first_category
            categories.append((combo.level, first_category))
            if first_rule.hold or second.rule.hold:
                hold = True

    if best_level == Level.NONE:
        hold = hold or _held_in_past(analysis)
        if not hold:
            return Assessment(
                level=Level.NONE,
                categories=(),
                hold=False,
                evidence=(),
                discounted=_discounted(analysis),
            )

    evidence: list[Evidence] = list(combo_evidence)
    for signal in sorted(analysis.kept, key=lambda s: -s.level.rank):
        if signal.level > Level.NONE:
            item = _evidence(signal, normalised, signal.rule.id, None)
            if item not in evidence:
                evidence.append(item)
    ordered: list[Category] = [best_category] if best_category is not None else []
    for _, category in sorted(categories, key=lambda pair: -pair[0].rank):
        if category not in ordered:
            ordered.append(category)
    return Assessment(
        level=best_level,
        categories=tuple(ordered),
        hold=hold or _held_in_past(analysis),
        evidence=tuple(evidence),
        discounted=_discounted(analysis),
    )


def _held_in_past(analysis: _Analysis) -> bool:
    """Method detail in a story that is over is still kept out of the group."""
    return any(
        signal.rule.hold and signal.rule.level >= Level.HIGH and reason in ("past", "recovery")
        for signal, reason in analysis.discounted
    )


def _discounted(analysis: _Analysis) -> tuple[Evidence, ...]:
    return tuple(
        _evidence(signal, analysis.normalised, f"{signal.rule.id}~{reason}", None)
        for signal, reason in analysis.discounted
        if signal.rule.level > Level.NONE
    )
