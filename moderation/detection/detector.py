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
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from functools import lru_cache, partial, reduce
from operator import attrgetter, itemgetter, or_
from typing import NamedTuple

from moderation.detection.assessment import NO_RISK, Assessment, Category, Evidence, Level
from moderation.detection.lexicon import (
    Combo,
    ContextRule,
    Gate,
    Lexicon,
    Rule,
    lexicon,
)
from moderation.detection.normalise import Normalised, normalise_with_tokens, tokens

# How many of the sender's recent messages are read, newest last.
RECENT_LIMIT = 5

# Punctuation, or one of the words (as a whole word). Each word's leading \b is written as
# a look-behind after its first letter, and the punctuation as single characters rather
# than a class, so that every option starts with a literal and the engine can skip ahead
# to a possible first character instead of trying the pattern everywhere.
_CLAUSE_BREAK = re.compile(
    r",|\.|;|:|!|\?|\n|\(|\)"
    r"|b(?<!\wb)ut\b|t(?<!\wt)hough\b|a(?<!\wa)lthough\b|h(?<!\wh)owever\b|y(?<!\wy)et\b"
)
_SENTENCE_BREAK = re.compile(r"[.!?\n]+")
# A quotation: a quote mark at the start or after white space, "(" or ":" (the look-behind
# is written after the mark, for the same reason), 2-120 characters, the same mark.
_QUOTE = re.compile(
    r"""(["'])(?<![^\s(:]["'])((?:(?!\1).|(?<=[a-z])'(?=[a-z])){2,120}?)\1(?=[\s.,!?;:)]|$)"""
)
_BEFORE_WINDOW = 60


class _Signal(NamedTuple):
    """One match of a rule's pattern in the normalised text. A named tuple rather than a
    frozen dataclass: a few are made for every message, and a tuple is made fastest."""

    rule: Rule
    start: int
    end: int
    capped: bool  # a context capped it at watch: counts as watch, never in combinations
    rank: int  # the rule's rank, or watch's if capped

    @property
    def level(self) -> Level:
        return _LEVELS[self.rank]


# _Signal(...) without the generated __new__ in Python: one is made for every match.
_new_signal = partial(tuple.__new__, _Signal)


def _capped(signal: _Signal) -> _Signal:
    return _Signal(signal.rule, signal.start, signal.end, True, min(signal.rank, 1))


class _Analysis(NamedTuple):
    normalised: Normalised
    kept: tuple[_Signal, ...]
    discounted: tuple[tuple[_Signal, str], ...]


class _Context:
    """Lazily computed facts about one normalised message, shared by its signals."""

    __slots__ = (
        "_clauses",
        "_last_sentence",
        "_quotes",
        "_sentence_ends",
        "live",
        "live_words",
        "memo",
        "regexes",
        "text",
    )

    def __init__(
        self, text: str, live_words: int, regexes: Sequence[re.Pattern[str] | None]
    ) -> None:
        self.text = text
        # Bit i: the context test i of the gate passes its word tests (`_gate`).
        self.live_words = live_words
        self.regexes = regexes
        self._clauses: list[int] | None = None
        self._sentence_ends: list[int] | None = None
        # A signal's contexts ask for its sentence in turn: keep the last answer.
        self._last_sentence: tuple[int, int, int] = (-1, 0, 0)
        self._quotes: list[tuple[int, int]] | None = None
        # Per context id: whether it can apply anywhere in this message (see `_live`).
        self.live: dict[str, bool] = {}
        self.memo: dict[tuple[str, int, int], bool] = {}

    def _clause_ends(self) -> list[int]:
        if self._clauses is None:
            self._clauses = [m.end() for m in _CLAUSE_BREAK.finditer(self.text)]
        return self._clauses

    def clause_start(self, pos: int) -> int:
        """Where the clause holding `pos` starts: the last clause break ending at or before it."""
        clauses = self._clause_ends()
        index = bisect_right(clauses, pos)
        return clauses[index - 1] if index else 0

    def clause(self, pos: int, lower: int, upper: int) -> tuple[int, int]:
        """The clause around `pos`, within the sentence [lower, upper)."""
        clauses = self._clause_ends()
        index = bisect_right(clauses, pos)
        start = max(lower, clauses[index - 1]) if index else lower
        end = min(upper, clauses[index]) if index < len(clauses) else upper
        return start, end

    def sentence(self, pos: int) -> tuple[int, int]:
        """The sentence holding `pos`: sentences end after a run of [.!?\\n] and tile the text."""
        last_pos, last_start, last_end = self._last_sentence
        if pos == last_pos:
            return last_start, last_end
        ends = self._sentence_ends
        if ends is None:
            ends = [m.end() for m in _SENTENCE_BREAK.finditer(self.text)]
            ends.append(len(self.text))
            self._sentence_ends = ends
        index = bisect_right(ends, pos)
        if index == len(ends):
            start, end = 0, len(self.text)
        else:
            start, end = (ends[index - 1] if index else 0), ends[index]
        self._last_sentence = (pos, start, end)
        return start, end

    def in_quote(self, start: int, end: int) -> bool:
        return any(q_start <= start and end <= q_end for q_start, q_end in self.quotes())

    def quotes(self) -> list[tuple[int, int]]:
        if self._quotes is None:
            if '"' not in self.text and "'" not in self.text:
                self._quotes = []
            else:
                self._quotes = [m.span(2) for m in _QUOTE.finditer(self.text)]
        return self._quotes


def _live(context: ContextRule, facts: _Context) -> bool:
    """Whether `context` can apply to any signal of the message (cached per message): the
    words of one of its options are there (the caller asks first); for a message-wide
    context, it matches; for quotes, there are some."""
    if context.scope == "quote":
        live = bool(facts.quotes())
    elif context.scope == "message":
        text = facts.text
        live = _found(facts, context.mask, 0, len(text))
        if live and context.unless_scope == "message":
            live = not _found(facts, context.unless_mask, 0, len(text))
    else:
        live = context.pattern is not None
    facts.live[context.id] = live
    return live


def _found(facts: _Context, mask: int, start: int, stop: int, *, anchored: bool = False) -> bool:
    """Whether one of the context tests in `mask` (bit i: Gate.tests[i]) matches at a word
    start of text[start:stop] (`anchored`: at `start` itself, the start of a signal's match
    for `unless_scope = "match"`): those of them whose words the message has are searched."""
    candidates = facts.live_words & mask
    regexes = facts.regexes
    text = facts.text
    while candidates:
        lowest = candidates & -candidates
        candidates ^= lowest
        regex = regexes[lowest.bit_length() - 1]
        assert regex is not None  # only a context without a pattern has none
        if anchored:
            if regex.match(text, start, stop) is not None:
                return True
        elif _search_word(regex, text, start, stop) is not None:
            return True
    return False


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
    """Whether a live context (see `_live`) sets `signal` aside."""
    scope = context.scope
    if scope == "quote":
        return facts.in_quote(signal.start, signal.end)
    if scope == "message":
        return not _unless(context, signal, facts)
    if scope == "before":
        start = max(facts.clause_start(signal.start), signal.start - _BEFORE_WINDOW)
        if not _found(facts, context.mask, start, signal.start):
            return False
        return not _unless(context, signal, facts)
    s_start, s_end = facts.sentence(signal.start)
    # Whether the pattern is in the sentence, once per sentence; the `unless` (maybe
    # of a clause only) is asked apart, once per span.
    key = (context.id, s_start, s_end)
    hit = facts.memo.get(key)
    if hit is None:
        hit = facts.memo[key] = _found(facts, context.mask, s_start, s_end)
    return hit and not _unless(context, signal, facts)


def _unless(context: ContextRule, signal: _Signal, facts: _Context) -> bool:
    if context.unless_scope == "message" or not facts.live_words & context.unless_mask:
        return False  # no unless, asked already (`_live`), or its words are not there
    if context.unless_scope == "match":
        return _found(facts, context.unless_mask, signal.start, signal.end, anchored=True)
    s_start, s_end = facts.sentence(signal.start)
    if context.unless_scope == "clause":
        s_start, s_end = facts.clause(signal.start, s_start, s_end)
    key = (f"{context.id}~unless", s_start, s_end)
    found = facts.memo.get(key)
    if found is None:
        found = facts.memo[key] = _found(facts, context.unless_mask, s_start, s_end)
    return found


# Words for the index: split on white space once punctuation is white space too. Nearly
# every message is ASCII once normalised, and bytes.translate is ten times str.translate.
_PUNCTUATION_TO_SPACE = str.maketrans({c: " " for c in string.punctuation})
_ASCII_PUNCTUATION_TO_SPACE = bytes.maketrans(
    string.punctuation.encode(), b" " * len(string.punctuation)
)
_FIRST_4 = itemgetter(slice(None, 4))
_FIRST_3 = itemgetter(slice(None, 3))


# A character that is neither in a token nor a separator of the index's words. Without
# one (nearly always), the index's words are the tokens and need no second split.
_OTHER_CHARACTER = re.compile(rf"[^a-z0-9\s{re.escape(string.punctuation)}]")


# The ASCII characters that are in a token or separate the index's words (str.split's
# white space and punctuation).
_TOKEN_OR_SEPARATOR = (
    string.ascii_lowercase + string.digits + string.punctuation
).encode() + bytes(c for c in range(128) if chr(c).isspace())


def _other_characters(text: str) -> bool:
    """Whether `text` has a character that is neither in a token nor a separator."""
    if text.isascii():
        return bool(text.encode().translate(None, _TOKEN_OR_SEPARATOR))
    return _OTHER_CHARACTER.search(text) is not None


def _keys(text: str, tokens: set[str] | None = None) -> set[str]:
    """The index keys of a normalised message: each word's first four and first three
    letters (a shorter word is its own key). `tokens` are the message's tokens, if
    already known."""
    if tokens is not None and not _other_characters(text):
        words: Iterable[str] = tokens
    elif text.isascii():
        words = text.encode().translate(_ASCII_PUNCTUATION_TO_SPACE).decode().split()
    else:
        words = text.translate(_PUNCTUATION_TO_SPACE).split()
    keys = set(map(_FIRST_4, words))
    keys.update(map(_FIRST_3, words))
    return keys


_TOKEN_BITS_LIMIT = 100_000  # the per-token table is cleared when it grows past this


def _token_bits(gate: Gate, token: str) -> int:
    """A token's bits in every slot of the gate (as a word for the keys and as a whole
    word), kept in the gate's table."""
    key_bits = gate.key_bits
    bits = key_bits.get(token[:4], 0) | key_bits.get(token[:3], 0) | gate.word_bits.get(token, 0)
    table = gate.token_bits
    if len(table) >= _TOKEN_BITS_LIMIT:
        table.clear()
    table[token] = bits
    return bits


def _gate(gate: Gate, text: str, tokens: list[str]) -> int:
    """The patterns (bit n) and contexts (bit size + i) whose word tests the message
    passes: those of lexicon.Gate, every slot at once."""
    if not _other_characters(text):  # the index's words are the tokens (nearly always)
        table = gate.token_bits
        found = list(map(table.get, tokens))
        if None in found:
            found = [table[t] if t in table else _token_bits(gate, t) for t in tokens]
        bits = reduce(or_, found, gate.free)
    else:
        key_bits = gate.key_bits
        bits = reduce(or_, filter(None, map(key_bits.get, _keys(text))), gate.free)
        bits = reduce(or_, filter(None, map(gate.word_bits.get, tokens)), bits)
    # AND the slots together by doubling: while slot i of `passed` holds the AND of
    # slots i .. i + span - 1 of `bits`, ANDing it with itself shifted by up to span
    # slots extends that run (three shifts for five slots instead of four).
    width = gate.width
    passed, span = bits, 1
    while span < gate.slots:
        shift = min(span, gate.slots - span)
        passed &= passed >> (shift * width)
        span += shift
    return passed & gate.slot_mask


def _scan(lex: Lexicon, text: str, tokens: list[str], found: list[_Signal]) -> int:
    """Search for the patterns that can match, each once, in lexicon order (which signal
    completes a combination follows that order). Returns the gate's bits of the
    contexts (bit i: contexts i passes the word tests).

    A pattern can match when the message has a word filed under one of its keys, a word
    for its second key, and a whole word of each of its word groups; most candidates
    fail one of these, and bit masks of pattern numbers sort them out in a few integer
    operations (`_gate`). The regex search is the real test.
    """
    gate = lex.gate
    assert gate is not None
    matcher = lex.matcher
    size = matcher.size
    passed = _gate(gate, text, tokens)
    can_match = passed & gate.pattern_mask
    for character, needing in matcher.character_tests:
        if character not in text:
            can_match &= ~needing
    regexes = matcher.regexes
    while can_match:
        lowest = can_match & -can_match
        can_match ^= lowest
        number = lowest.bit_length() - 1
        regex = regexes[number]
        match = regex.search(text)
        if match is None:
            continue  # usually no match at all: one search is the whole cost
        rule = matcher.rules[number]
        while match is not None:
            start, end = match.span()
            if not start or not text[start - 1].isalnum():  # matches begin at a word start
                found.append(_new_signal((rule, start, end, False, rule.rank)))
                match = regex.search(text, end if end > start else start + 1)
            else:  # "he" inside "the": a match at a later word start may overlap this one
                match = regex.search(text, start + 1)
    return passed >> size


def _analyse(text: str, lex: Lexicon, recent: bool = False) -> _Analysis:
    normalised, words = normalise_with_tokens(text)
    norm = normalised.text
    found: list[_Signal] = []
    live_words = _scan(lex, norm, tokens(norm) if words is None else words, found)
    if not found:
        return _Analysis(normalised, (), ())
    assert lex.gate is not None
    facts = _Context(norm, live_words, lex.gate.regexes)
    kept: list[_Signal] = []
    discounted: list[tuple[_Signal, str]] = []
    risk = [signal for signal in found if signal.rule.rank]
    cues = [signal for signal in found if not signal.rule.rank]
    _judge(risk, lex, facts, kept, discounted)
    if cues and (recent or _combo_possible(lex, risk, cues)):
        _judge(cues, lex, facts, kept, discounted)
    return _Analysis(normalised, tuple(kept), tuple(discounted))


def _combo_possible(lex: Lexicon, risk: list[_Signal], cues: list[_Signal]) -> bool:
    """Whether the cues found could complete a combination (else their context is moot):
    whether a tag found, of a risk or a cue, has a partner (a tag of a combination's
    other side) among the cues' tags."""
    bits = lex.rule_combo_bits
    cue_tags = reduce(or_, [bits[signal.rule.id].tags for signal in cues], 0)
    partners = reduce(or_, [bits[signal.rule.id].partners for signal in cues], 0)
    partners = reduce(or_, [bits[signal.rule.id].partners for signal in risk], partners)
    return bool(cue_tags & partners)


def _judge(
    signals: list[_Signal],
    lex: Lexicon,
    facts: _Context,
    kept: list[_Signal],
    discounted: list[tuple[_Signal, str]],
) -> None:
    live = facts.live
    live_words = facts.live_words
    rule_contexts = lex.rule_context_bits
    for signal in signals:
        mask, contexts = rule_contexts[signal.rule.id]
        if not mask & live_words:  # none of its contexts has its words in the message
            kept.append(signal)
            continue
        reason = None
        capped = False
        for context in contexts:
            if not live_words & context.mask:
                continue  # the words of none of its options are in the message
            applies = live.get(context.id)
            if applies is None:
                applies = _live(context, facts)
            if applies and _applies(context, signal, facts):
                if context.effect == "cap_watch":
                    capped = True
                    continue
                reason = context.id
                break
        if reason is not None:
            discounted.append((signal, reason))
        elif capped:
            kept.append(_capped(signal))
        else:
            kept.append(signal)


@lru_cache(maxsize=2048)
def _analyse_recent(text: str) -> _Analysis:
    # A sender's recent messages come back with every new message: analyse each once.
    return _analyse(text, lexicon(), True)


def _evidence(
    signal: _Signal, normalised: Normalised, rule_id: str, source: int | None
) -> Evidence:
    start, end = _original_span(signal, normalised)
    return Evidence(rule_id, normalised.original[start:end], start, end, source)


def _original_span(signal: _Signal, normalised: Normalised) -> tuple[int, int]:
    if normalised.steps:
        return normalised.to_original(signal.start, signal.end)
    return signal.start, signal.end  # nothing was replaced: the offsets are the original's


_LEVELS = (Level.NONE, Level.WATCH, Level.HIGH, Level.IMMINENT)
_RANK = attrgetter("rank")
_FIRST = itemgetter(0)
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
        if recent_kept:
            combos: Iterable[Combo] = lex.combos
        else:
            # Without recent signals only a combination with a tag of each side among
            # this message's signals can fire: find those few by bit masks of combos.
            bits = [lex.rule_combo_bits[signal.rule.id] for signal in usable]
            both = reduce(or_, [b.first for b in bits]) & reduce(or_, [b.second for b in bits])
            combos = []
            while both:  # in lexicon order
                lowest = both & -both
                both ^= lowest
                combos.append(lex.combos[lowest.bit_length() - 1])
        for combo in combos:
            rank = combo.rank
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

    held_in_past = _held_in_past(analysis)
    discounted = _discounted(analysis)
    if not best and not (hold or held_in_past):
        return Assessment(
            level=Level.NONE,
            categories=(),
            hold=False,
            evidence=(),
            discounted=discounted,
        )

    evidence: list[Evidence] = list(combo_evidence)
    spans = {(item.start, item.end, item.source) for item in evidence[1:]}
    for signal in sorted(kept, key=_RANK, reverse=True):  # stable: ties keep their order
        if signal.rank:
            start, end = _original_span(signal, normalised)
            if (start, end, None) not in spans:  # one rule per span is enough
                spans.add((start, end, None))
                text_span = normalised.original[start:end]
                evidence.append(Evidence(signal.rule.id, text_span, start, end, None))
    ordered: list[Category] = [best_category] if best_category is not None else []
    for _, category in sorted(categories, key=_FIRST, reverse=True):
        if category not in ordered:
            ordered.append(category)
    return Assessment(
        level=_LEVELS[best],
        categories=tuple(ordered),
        hold=hold or held_in_past,
        evidence=tuple(evidence),
        discounted=discounted,
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
    """Two signals say two things: not the same words read twice (nor by two patterns of
    one rule), nor a cue inside another cue ("tonight" inside "tonight's the night")."""
    if one is other or (one.start == other.start and one.end == other.end):
        return False
    if one.rule is other.rule and one.start < other.end and other.start < one.end:
        return False  # one rule's overlapping matches ("im at the station" / "at the station.")
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
    if not analysis.discounted:
        return False
    return any(
        signal.rule.hold and signal.rule.rank >= _HIGH and reason in ("past", "recovery")
        for signal, reason in analysis.discounted
    )


def _discounted(analysis: _Analysis) -> tuple[Evidence, ...]:
    if not analysis.discounted:
        return ()
    return tuple(
        _evidence(signal, analysis.normalised, f"{signal.rule.id}~{reason}", None)
        for signal, reason in analysis.discounted
        if signal.rule.rank
    )
