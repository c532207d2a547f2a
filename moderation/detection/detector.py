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
import string
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
    def rank(self) -> int:
        return 1 if self.capped and self.rule.rank > 1 else self.rule.rank

    @property
    def level(self) -> Level:
        return _LEVELS[self.rank]


@dataclass(frozen=True, slots=True)
class _Analysis:
    normalised: Normalised
    kept: tuple[_Signal, ...]
    discounted: tuple[tuple[_Signal, str], ...]


class _Context:
    """Lazily computed facts about one normalised message, shared by its signals."""

    __slots__ = ("_clauses", "_message_hits", "_quotes", "_sentences", "keys", "memo", "text")

    def __init__(self, text: str, keys: set[str]) -> None:
        self.text = text
        self.keys = keys
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

    def clause(self, pos: int, lower: int, upper: int) -> tuple[int, int]:
        """The clause around `pos`, within the sentence [lower, upper)."""
        if self._clauses is None:
            self._clauses = [m.end() for m in _CLAUSE_BREAK.finditer(self.text)]
        start, end = lower, upper
        for boundary in self._clauses:
            if boundary <= pos:
                start = max(start, boundary)
            else:
                end = min(end, boundary)
                break
        return start, end

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
            hit = bool(context.pattern and _search_word(context.pattern, self.text))
            if hit and context.unless is not None and context.unless_scope == "message":
                hit = not _search_word(context.unless, self.text)
            self._message_hits[context.id] = hit
        return hit


def _search_word(
    regex: re.Pattern[str], text: str, start: int = 0, end: int | None = None
) -> re.Match[str] | None:
    """`regex.search`, but only matches that start a word."""
    stop = len(text) if end is None else end
    while True:
        match = regex.search(text, start, stop)
        if match is None:
            return None
        begin = match.start()
        if not begin or not text[begin - 1].isalnum():
            return match
        start = begin + 1


def _applies(context: ContextRule, signal: _Signal, facts: _Context) -> bool:
    if context.keys is not None and not context.keys & facts.keys:
        return False  # none of the words the context needs is in the message
    scope = context.scope
    if scope == "quote":
        return facts.in_quote(signal.start, signal.end)
    if scope == "message":
        return facts.message_has(context) and not _unless(context, signal, facts)
    text = facts.text
    if scope == "before":
        start = max(facts.clause_start(signal.start), signal.start - _BEFORE_WINDOW)
        if context.pattern is None or not _search_word(context.pattern, text, start, signal.start):
            return False
        return not _unless(context, signal, facts)
    s_start, s_end = facts.sentence(signal.start)
    key = (context.id, s_start if context.unless_scope != "clause" else signal.start)
    hit = facts.memo.get(key)
    if hit is None:
        hit = bool(context.pattern and _search_word(context.pattern, text, s_start, s_end))
        hit = hit and not _unless(context, signal, facts)
        facts.memo[key] = hit
    return hit


def _unless(context: ContextRule, signal: _Signal, facts: _Context) -> bool:
    if context.unless is None or context.unless_scope == "message":
        return False
    s_start, s_end = facts.sentence(signal.start)
    if context.unless_scope == "clause":
        s_start, s_end = facts.clause(signal.start, s_start, s_end)
    return _search_word(context.unless, facts.text, s_start, s_end) is not None


# Words for the index: split on white space once punctuation is white space too.
_PUNCTUATION_TO_SPACE = str.maketrans({c: " " for c in string.punctuation})


def _scan(matcher: Matcher, text: str, keys: set[str], found: list[_Signal]) -> None:
    """Search for the patterns whose needed words the text has, each once."""
    index = matcher.index_sets
    candidates: set[int] = set(matcher.always)
    for key in keys & index.keys():
        candidates |= index[key]
    patterns = matcher.patterns
    second = matcher.second
    # In lexicon order: which signal completes a combination (and so its hold and
    # category) follows the order signals are found in, which must not depend on how a
    # set of numbers happens to iterate (that varies with the string hash seed).
    for number in sorted(candidates):
        # A cheap set test first: a second word the pattern needs must be there too.
        also = second[number]
        if also is not None and keys.isdisjoint(also):
            continue
        regex, rule = patterns[number]
        match = regex.search(text)
        while match is not None:  # usually no match at all: one search is the whole cost
            start = match.start()
            if not start or not text[start - 1].isalnum():  # matches begin at a word start
                found.append(_Signal(rule, start, match.end(), False))
            match = regex.search(text, match.end() if match.end() > start else start + 1)


def _analyse(text: str, lex: Lexicon, recent: bool = False) -> _Analysis:
    normalised = normalise(text)
    norm = normalised.text
    found: list[_Signal] = []
    words = norm.translate(_PUNCTUATION_TO_SPACE).split()
    keys = {word[:4] for word in words}
    keys.update([word[:3] for word in words])
    _scan(lex.signals, norm, keys, found)
    _scan(lex.cues, norm, keys, found)
    if not found:
        return _Analysis(normalised, (), ())
    facts = _Context(norm, keys)
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
        (combo.first & every and combo.second & cue_tags)
        or (combo.second & every and combo.first & cue_tags)
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


def _evidence(
    signal: _Signal, normalised: Normalised, rule_id: str, source: int | None
) -> Evidence:
    start, end = normalised.to_original(signal.start, signal.end)
    return Evidence(rule_id, normalised.original[start:end], start, end, source)


_LEVELS = (Level.NONE, Level.WATCH, Level.HIGH, Level.IMMINENT)
_HIGH = 2


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
    kept = analysis.kept

    best = 0
    best_category: Category | None = None
    categories: list[tuple[int, Category]] = []
    hold = False
    for signal in kept:
        rank = signal.rank
        if rank:
            categories.append((rank, signal.rule.category))
            if rank >= _HIGH and signal.rule.hold:
                hold = True
            if rank > best:
                best, best_category = rank, signal.rule.category

    # Combinations: both sides in this message, or the first in a recent message.
    combo_evidence: list[Evidence] = []
    usable = [signal for signal in kept if not signal.capped]
    recent_kept = _recent_signals(recent, recent_tail) if recent_tail else []
    if usable:
        for combo in lex.combos:
            rank = combo.level.rank
            if rank <= best and combo_evidence:
                continue
            found = _combination(combo.first, combo.second, usable)
            if found is not None:
                first, second = found
                first_evidence = _evidence(first, normalised, first.rule.id, None)
            elif combo.recent and recent_kept:
                now = next((s for s in usable if s.rule.tags & combo.second), None)
                earlier = next(
                    ((i, s, n) for i, s, n in recent_kept if s.rule.tags & combo.first), None
                )
                if now is None or earlier is None:
                    continue
                second = now
                index, first, earlier_norm = earlier
                first_evidence = _evidence(first, earlier_norm, first.rule.id, index)
            else:
                continue
            second_evidence = _evidence(second, normalised, second.rule.id, None)
            combo_evidence = [
                Evidence(
                    combo.id, second_evidence.text, second_evidence.start, second_evidence.end
                ),
                first_evidence,
                second_evidence,
            ]
            if rank > best:
                best, best_category = rank, first.rule.category
            categories.append((rank, first.rule.category))
            hold = hold or first.rule.hold or second.rule.hold

    if not best and not (hold or _held_in_past(analysis)):
        return Assessment(
            level=Level.NONE,
            categories=(),
            hold=False,
            evidence=(),
            discounted=_discounted(analysis),
        )

    evidence: list[Evidence] = list(combo_evidence)
    spans = {(item.start, item.end, item.source) for item in evidence[1:]}
    for signal in sorted(kept, key=lambda s: -s.rank):
        if signal.rank:
            item = _evidence(signal, normalised, signal.rule.id, None)
            if (item.start, item.end, None) not in spans:  # one rule per span is enough
                spans.add((item.start, item.end, None))
                evidence.append(item)
    ordered: list[Category] = [best_category] if best_category is not None else []
    for _, category in sorted(categories, key=lambda pair: -pair[0]):
        if category not in ordered:
            ordered.append(category)
    return Assessment(
        level=_LEVELS[best],
        categories=tuple(ordered),
        hold=hold or _held_in_past(analysis),
        evidence=tuple(evidence),
        discounted=_discounted(analysis),
    )


def _combination(
    first_tags: frozenset[str], second_tags: frozenset[str], signals: list[_Signal]
) -> tuple[_Signal, _Signal] | None:
    """Two distinct signals, one tagged from each side."""
    for second in signals:
        if second.rule.tags & second_tags:
            for first in signals:
                if first.rule.tags & first_tags and _distinct(first, second):
                    return first, second
    return None


def _distinct(one: _Signal, other: _Signal) -> bool:
    """Two signals say two things: not the same words read twice, nor a cue inside
    another cue ("tonight" inside "tonight's the night")."""
    if one is other or (one.start == other.start and one.end == other.end):
        return False
    nested = (one.start <= other.start and other.end <= one.end) or (
        other.start <= one.start and one.end <= other.end
    )
    return not (nested and (one.rule is other.rule or not (one.rule.rank or other.rule.rank)))


def _recent_signals(
    recent: Sequence[str], tail: tuple[str, ...]
) -> list[tuple[int, _Signal, Normalised]]:
    offset = len(recent) - len(tail)
    found: list[tuple[int, _Signal, Normalised]] = []
    for index, earlier in enumerate(tail):
        earlier_analysis = _analyse_recent(earlier)
        for signal in earlier_analysis.kept:
            if not signal.capped:
                found.append((offset + index, signal, earlier_analysis.normalised))
    return found


def _held_in_past(analysis: _Analysis) -> bool:
    """Method detail in a story that is over is still kept out of the group."""
    return any(
        signal.rule.hold and signal.rule.rank >= _HIGH and reason in ("past", "recovery")
        for signal, reason in analysis.discounted
    )


def _discounted(analysis: _Analysis) -> tuple[Evidence, ...]:
    return tuple(
        _evidence(signal, analysis.normalised, f"{signal.rule.id}~{reason}", None)
        for signal, reason in analysis.discounted
        if signal.rule.rank
    )
