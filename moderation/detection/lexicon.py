"""Load data/lexicon.toml and compile it, once, into fast matchers.

The rules are data; this module only checks and compiles them. Speed comes from an index
rather than from one giant regular expression: for every pattern the compiler finds, in
the parsed regex, a literal word that any match must contain (the rarest it can find) and
files the pattern under that word's first three letters. A message is split into words
once; only the patterns filed under its words' first three letters are run. A typical
chat message so runs a handful of small anchored regexes instead of several hundred.
Patterns with no such word (rare) are always run.
"""

from __future__ import annotations

import re
import string
import tomllib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from moderation.detection.assessment import Category, Level

DATA_DIR = Path(__file__).resolve().parent / "data"
LEXICON_PATH = DATA_DIR / "lexicon.toml"

_MACRO = re.compile(r"\{([a-z_]+)\}")
_RULE_ID = re.compile(r"[a-z_]+\.[a-z_]+")
_SCOPES = frozenset({"before", "clause", "sentence", "message", "quote"})
_EFFECTS = frozenset({"discount", "cap_watch"})


class LexiconError(ValueError):
    """The lexicon data is malformed; raised at import so a bad edit never ships."""


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    level: Level
    rank: int  # level.rank, kept as a plain int for the hot path
    category: Category
    kind: str
    tags: frozenset[str]
    contexts: tuple[str, ...]
    hold: bool
    patterns: tuple[str, ...]
    comment: str


@dataclass(frozen=True, slots=True)
class ContextTest:
    """One option of a context's pattern or `unless` (`_context_tests`), with the words
    a match of it needs: the gate tests each option on its own."""

    regex: re.Pattern[str] | None  # None: the context has no pattern (quotes)
    # Keys of which the text must have one for `regex` to match (None: unknown).
    keys: frozenset[str] | None
    # Groups of whole words of which the text must have one of each (lexicon._word_groups).
    words: tuple[frozenset[str], ...]


@dataclass(frozen=True, slots=True)
class ContextRule:
    id: str
    scope: str
    effect: str
    pattern: re.Pattern[str] | None
    unless: re.Pattern[str] | None
    unless_scope: str
    comment: str
    # The options of `pattern` and of `unless`: the context's pattern matches at a word
    # start where one of its options does.
    tests: tuple[ContextTest, ...] = ()
    unless_tests: tuple[ContextTest, ...] = ()
    # The bits of those tests in the gate (bit i: Gate.tests[i]), set by load_lexicon.
    mask: int = 0
    unless_mask: int = 0


@dataclass(frozen=True, slots=True)
class Combo:
    id: str
    level: Level
    first: frozenset[str]
    second: frozenset[str]
    recent: bool
    comment: str
    rank: int = 0  # level.rank, kept as a plain int for the hot path


@dataclass(frozen=True, slots=True)
class Matcher:
    """The patterns of a group of rules, indexed by the words they need.

    `index[key]`: patterns whose match must contain a word beginning with `key` (the
    rarest such word the compiler could find); `always`: patterns with none.
    """

    patterns: tuple[tuple[re.Pattern[str], Rule], ...]
    index: dict[str, tuple[int, ...]]
    always: tuple[int, ...]
    # The same, ready for the hot path: key -> frozenset of pattern numbers.
    index_sets: dict[str, frozenset[int]]
    # Per pattern, every set of keys it needs one of: all must meet the text's keys
    # before the regex is worth running. `second` is the most telling one besides the
    # key it is filed under (None when there is none), for a single cheap test.
    requirements: tuple[tuple[frozenset[str], ...], ...]
    second: tuple[frozenset[str] | None, ...]
    # The same tests as bit masks of pattern numbers, so that the scanner finds the
    # patterns that pass them all with one dict lookup per word and a few integer
    # operations, instead of a Python step per candidate (detector._scan). With N
    # patterns, bit n of a mask stands for pattern n in the first test, bit N + n for it
    # in the second test, and so on:
    # - key -> [filed under the key | its `second` holds the key]; `key_free`: [filed
    #   under no key | has no `second`], which pass whatever the words;
    # - word -> [its first word group holds the word | its second group does | ...];
    #   `word_free`: [has no first group | no second group | ...].
    size: int = 0
    key_masks: dict[str, int] = field(default_factory=dict)
    key_free: int = 0
    word_masks: dict[str, int] = field(default_factory=dict)
    word_free: int = 0
    word_tests: int = 0  # how many word groups a pattern has at most
    # For the patterns filed under no key and no word (a time like "10:30"): a character
    # that every match has, and the mask of the patterns that need it.
    character_tests: tuple[tuple[str, int], ...] = ()
    regexes: tuple[re.Pattern[str], ...] = ()
    sources: tuple[str, ...] = ()  # the patterns as written (the compiled ones have none)
    rules: tuple[Rule, ...] = ()
    # Per pattern, the most telling groups of whole words it needs one of (see
    # `_word_groups`): after the keys, a test that most candidates fail.
    words: tuple[tuple[frozenset[str], ...], ...] = ()


@dataclass(frozen=True, slots=True)
class Lexicon:
    rules: tuple[Rule, ...]
    # Every rule's patterns, numbered signals first (by level, then in file order), cues
    # last: the order in which their matches are judged.
    matcher: Matcher
    contexts: dict[str, ContextRule]
    combos: tuple[Combo, ...]
    words: frozenset[str]
    rule_contexts: dict[str, tuple[ContextRule, ...]]
    combo_tags: frozenset[str]
    # The matcher's key and word tests and those of the contexts, as one table (`Gate`).
    gate: Gate | None = None
    # rule id -> the mask of its contexts' tests in the gate (bit i: Gate.tests[i]) and its
    # contexts in order.
    rule_context_bits: dict[str, tuple[int, tuple[ContextRule, ...]]] = field(default_factory=dict)
    # rule id -> its place in the combinations, as bit masks (`ComboBits`).
    rule_combo_bits: dict[str, ComboBits] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ComboBits:
    """A rule's place in the combinations: which combinations have one of its tags on
    each side (bit n: Lexicon.combos[n]), and, over the tags that are on a combination
    (bit t: the t-th of them in sorted order), its own tags and their partners (the tags
    on the other side of a combination with one of them). The detector ORs these over a
    message's signals instead of uniting their sets of tags."""

    first: int
    second: int
    tags: int
    partners: int


@dataclass(frozen=True, slots=True)
class Gate:
    """Every word test of the patterns and of the contexts, as bit masks of one layout, so
    that a message needs one dict lookup per word and a few integer operations.

    Bits are numbered in `slots` slots of `width` bits: within a slot, bit n < `size`
    stands for pattern n, bit `size` + i for the option of a context's pattern (or
    `unless`) `tests[i]`. Slot 0: the message has a word filed under the key of the
    pattern (or option); slot 1: under its `second` key; slot 2 + r: a whole word of its
    word group r. A test that a pattern or option does not have is set in `free`. What
    passes every slot can match (as far as words go).
    """

    size: int
    width: int
    slots: int
    tests: tuple[ContextTest, ...]
    key_bits: dict[str, int]  # a word's key (first 4 or first 3 letters) -> bits
    word_bits: dict[str, int]  # a whole word -> bits
    free: int
    # A token's key and word bits together, filled as tokens are seen (the detector's).
    token_bits: dict[str, int] = field(default_factory=dict)
    # tests[i].regex, for the detector.
    regexes: tuple[re.Pattern[str] | None, ...] = ()
    slot_mask: int = 0  # the bits of one slot: (1 << width) - 1
    pattern_mask: int = 0  # the patterns' bits of a slot: (1 << size) - 1


def _build_gate(matcher: Matcher, tests: Sequence[ContextTest]) -> Gate:
    size = matcher.size
    width = size + len(tests)
    slots = 2 + max(matcher.word_tests, max((len(t.words) for t in tests), default=0))
    key_bits: dict[str, int] = defaultdict(int)
    word_bits: dict[str, int] = defaultdict(int)
    free = 0
    for number, keys in enumerate(_per_pattern_keys(matcher)):
        if keys is None:
            free |= 1 << number
        for key in keys or ():
            key_bits[key] |= 1 << number
    for number, second in enumerate(matcher.second):
        if second is None:
            free |= 1 << (width + number)
        for key in second or ():
            key_bits[key] |= 1 << (width + number)
    owners: list[tuple[int, tuple[frozenset[str], ...]]] = list(enumerate(matcher.words))
    owners += [(size + i, test.words) for i, test in enumerate(tests)]
    for number, groups in owners:
        for rank in range(slots - 2):
            bit = 1 << ((2 + rank) * width + number)
            if rank >= len(groups):
                free |= bit
            else:
                for word in groups[rank]:
                    word_bits[word] |= bit
    for i, test in enumerate(tests):
        bit = size + i
        if test.keys is None:
            free |= 1 << bit
        for key in test.keys or ():
            key_bits[key] |= 1 << bit
        free |= 1 << (width + bit)  # no second key
    return Gate(
        size=size,
        width=width,
        slots=slots,
        tests=tuple(tests),
        key_bits=dict(key_bits),
        word_bits=dict(word_bits),
        free=free,
        regexes=tuple(test.regex for test in tests),
        slot_mask=(1 << width) - 1,
        pattern_mask=(1 << size) - 1,
    )


def _per_pattern_keys(matcher: Matcher) -> list[tuple[str, ...] | None]:
    """The keys each pattern is filed under (None: always run)."""
    keys: list[list[str] | None] = [[] for _ in range(matcher.size)]
    for number in matcher.always:
        keys[number] = None
    for key, numbers in matcher.index.items():
        for number in numbers:
            entry = keys[number]
            if entry is not None:
                entry.append(key)
    return [None if entry is None else tuple(entry) for entry in keys]


def _expand(pattern: str, macros: dict[str, str], where: str) -> str:
    for _ in range(10):
        if "{" not in pattern:
            break

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in macros:
                raise LexiconError(f"{where}: unknown macro {{{name}}}")
            return macros[name]

        pattern = _MACRO.sub(replace, pattern)
    return pattern


def _prepare(pattern: str) -> str:
    """Spaces match any white space; a word end is required unless the pattern ends in ~."""
    prefix_only = pattern.endswith("~")
    if prefix_only:
        pattern = pattern[:-1]
    if re.search(r" [?*+{]| \(\?:[^()]*\)\?$", pattern):
        raise LexiconError(
            f"a space before an optional part in {pattern!r}: write 'word(?: more)?', "
            "not 'word (?:more)?' (a space must match at least one space)"
        )
    pattern = pattern.replace(" ", r"\s+")
    return pattern if prefix_only else pattern + r"(?![a-z0-9])"


# Literal words so common that filing a pattern under them would run it for most messages.
# The most common ones weigh more.
_VERY_COMMON = frozenset(
    [
        "the",
        "and",
        "you",
        "not",
        "for",
        "this",
        "that",
        "with",
        "but",
        "all",
        "just",
        "are",
        "was",
        "have",
    ]
)
_COMMON = frozenset(
    [
        "what",
        "can",
        "get",
        "abou",
        "when",
        "some",
        "feel",
        "even",
        "know",
        "like",
        "real",
        "want",
        "goin",
        "dont",
        "woul",
        "coul",
        "shou",
        "time",
        "day",
        "now",
        "one",
        "out",
        "beca",
        "how",
        "who",
        "into",
        "from",
        "had",
        "has",
        "her",
        "his",
        "him",
        "more",
        "much",
        "very",
        "lot",
        "any",
        "last",
        "star",
        "keep",
        "work",
        "back",
        "agai",
        "too",
        "stop",
        "toda",
        "thro",
        "fine",
        "toni",
        "nigh",
        "part",
        "see",
        "say",
        "tell",
        "talk",
        "thin",
        "also",
        "afte",
        "befo",
        "been",
        "bein",
        "make",
        "take",
        "came",
        "come",
        "did",
        "does",
        "help",
        "love",
        "need",
        "stil",
        "sure",
        "use",
        "well",
        "went",
        "were",
        "will",
        "yeah",
        "yes",
        "try",
        "sinc",
        "they",
        "them",
        "then",
        "than",
        "there",
        "their",
        "here",
        "your",
    ]
)
_KEY_LENGTH = 4
_PUNCTUATION = frozenset(string.punctuation)


def _is_space(op: Any, arg: Any) -> bool:
    constants = re._constants  # type: ignore[attr-defined]
    if op is constants.LITERAL:
        return chr(arg).isspace()
    if op is constants.IN:
        return any(
            sub_op is constants.CATEGORY and sub_arg is constants.CATEGORY_SPACE
            for sub_op, sub_arg in arg
        )
    if op in (constants.MAX_REPEAT, constants.MIN_REPEAT) and arg[0] >= 1:
        items = list(arg[2])
        return len(items) == 1 and _is_space(*items[0])
    return False


def _required(items: Sequence[Any], run: str | None) -> tuple[list[frozenset[str]], str | None]:
    """Sets of word keys of which a match of `items` must contain one.

    A word's key is its first four letters, or three for a shorter literal start (the
    text side files each word under both). `run` is the
    literal text read so far in the current word ("" at a word start, None in the middle
    of a word that did not start with a literal); the second value returned is the same
    after `items`.
    """
    constants = re._constants  # type: ignore[attr-defined]
    groups: list[frozenset[str]] = []

    def flush(text: str | None, complete: bool) -> None:
        key = _key(text, complete)
        if key is not None:
            groups.append(frozenset([key]))

    for op, arg in items:
        if _is_space(op, arg) or (op is constants.LITERAL and chr(arg) in _PUNCTUATION):
            flush(run, True)  # the text's words are split at punctuation too ("d&d")
            run = ""
        elif op is constants.LITERAL:
            if run is not None:
                run += chr(arg)
        elif op in (constants.AT, constants.ASSERT, constants.ASSERT_NOT):
            continue
        elif op is constants.SUBPATTERN:
            inner, run = _required(list(arg[-1]), run)
            groups.extend(inner)
        elif op is constants.BRANCH:
            options: set[str] = set()
            complete = True
            ends = set()
            for branch in arg[1]:
                inner, after = _required(list(branch), run)
                ends.add(after)
                key = _key(after, False)
                if key is not None:
                    inner.append(frozenset([key]))
                best = _best(inner)
                if best is None:
                    complete = False
                else:
                    options.update(best)
            if complete and options:
                groups.append(frozenset(options))
            run = "" if ends == {""} else None
        elif op in (constants.MAX_REPEAT, constants.MIN_REPEAT):
            low, _, sub = arg
            if low >= 1:
                inner, after = _required(list(sub), run)
                groups.extend(inner)
                flush(after, False)
                run = "" if after == "" else None
            else:
                flush(run, False)
                _, after = _required(list(sub), run)
                run = "" if (after == "" and run == "") else None
        else:
            flush(run, False)
            run = None
    return groups, run


def _key(text: str | None, complete: bool) -> str | None:
    """The index key of a literal word start: four letters, or a whole shorter word."""
    if text is None:
        return None
    if len(text) >= _KEY_LENGTH:
        return text[:_KEY_LENGTH]
    if len(text) == 3:
        return text  # the text side files every word under its first 3 letters too
    return None


def _best(groups: Sequence[frozenset[str]]) -> frozenset[str] | None:
    if not groups:
        return None
    return min(
        groups,
        key=lambda g: sum(30 if k in _VERY_COMMON else 10 if k in _COMMON else 1 for k in g),
    )


@cache
def _parsed(pattern: str) -> Any:
    """The parsed regex (re's own parse tree), shared by the analyses below and the
    compiler while the lexicon loads (load_lexicon clears the cache)."""
    return re._parser.parse(pattern)  # type: ignore[attr-defined]


def _requirements(pattern: str) -> tuple[frozenset[str], ...]:
    """Every group of keys of which a match must contain one (empty if unknown)."""
    try:
        parsed = _parsed(pattern)
    except re.error:
        return ()
    groups, run = _required(list(parsed), "")
    key = _key(run, True)
    if key is not None:
        groups.append(frozenset([key]))
    return tuple(dict.fromkeys(groups))


def _second(groups: tuple[frozenset[str], ...]) -> frozenset[str] | None:
    """The second most selective group (the best one is what the pattern is filed under)."""
    if len(groups) < 2:
        return None
    best = _best(groups)
    rest = [group for group in groups if group != best]
    return _best(rest) if rest else None


def _index_keys(pattern: str) -> frozenset[str] | None:
    """The word prefixes of which a text must contain one for `pattern` to match."""
    try:
        parsed = _parsed(pattern)
    except re.error:
        return None
    return _keys_of(list(parsed))


def _keys_of(items: list[Any]) -> frozenset[str] | None:
    """`_index_keys` of a parsed pattern."""
    groups, run = _required(items, "")
    key = _key(run, True)
    if key is not None:
        groups.append(frozenset([key]))
    best = _best(groups)
    return best


# Whole words, for a second, finer test than the keys (see `_word_groups`).
_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_MAX_PARTIAL_WORDS = 256  # beyond this many spellings of one word, treat it as unknown
_WORD_GROUPS_KEPT = 3
_WORD_START = frozenset([""])
_WORD_ENDING_AT = frozenset(
    [re._constants.AT_BOUNDARY, re._constants.AT_END, re._constants.AT_END_STRING]  # type: ignore[attr-defined]
)
_Partial = frozenset[str] | None


def _word_groups(pattern: str) -> tuple[frozenset[str], ...]:
    """Sets of whole words of which a match of `pattern` that starts a word must contain
    one, a word being a maximal run of [a-z0-9] (detector._tokens), most telling first.

    The keys only say that some word starts with "over"; this says the word is
    "overdosing" or "oding", which rules out most messages whose keys let a pattern
    through. Only the few most telling groups are kept: each costs a set test.
    """
    try:
        parsed = _parsed(pattern)
    except re.error:
        return ()
    return _word_groups_of(list(parsed), ends_word=pattern.endswith(r"(?![a-z0-9])"))


def _word_groups_of(items: list[Any], *, ends_word: bool) -> tuple[frozenset[str], ...]:
    """`_word_groups` of a parsed pattern (`ends_word`: its match ends a word)."""
    groups, partial = _whole_words(items, _WORD_START)
    if ends_word and partial and "" not in partial:
        groups.append(partial)  # the last word ends where the pattern does
    ranked = sorted(dict.fromkeys(groups), key=_word_group_weight)
    return tuple(ranked[:_WORD_GROUPS_KEPT])


def _word_group_weight(group: frozenset[str]) -> int:
    """How likely a message is to have a word of `group` (lower: more telling)."""
    weight = 0
    for word in group:
        key = word[:_KEY_LENGTH]
        if len(word) <= 2 or key in _VERY_COMMON:
            weight += 30
        elif key in _COMMON:
            weight += 10
        else:
            weight += 1
    return weight


def _whole_words(items: Sequence[Any], partial: _Partial) -> tuple[list[frozenset[str]], _Partial]:
    r"""The word groups that `items` require, and the spellings the current word can have
    read so far after them.

    `partial` is the set of spellings of the current word read so far ("" right after a
    word start), or None when unknown (after \w, a class, a repeat...). A word is
    complete, and its spellings a group, where a character that cannot be in a word
    follows it: white space, punctuation, or the end of the pattern.
    """
    constants = re._constants  # type: ignore[attr-defined]
    groups: list[frozenset[str]] = []

    def word_ends(spellings: _Partial) -> None:
        if spellings and "" not in spellings:
            groups.append(spellings)

    for op, arg in items:
        if _is_space(op, arg) or (op is constants.LITERAL and chr(arg) not in _WORD_CHARS):
            word_ends(partial)
            partial = _WORD_START
        elif op is constants.LITERAL:
            if partial is not None:
                partial = frozenset(spelling + chr(arg) for spelling in partial)
        elif op is constants.AT and arg in _WORD_ENDING_AT:
            word_ends(partial)  # \b after a word character, or $: the word ends here
        elif op in (constants.AT, constants.ASSERT, constants.ASSERT_NOT):
            continue  # reads nothing
        elif op is constants.SUBPATTERN:
            inner, partial = _whole_words(list(arg[-1]), partial)
            groups.extend(inner)
        elif op is constants.BRANCH:
            # A group holds for the branch when every option requires one: their union.
            options: set[str] = set()
            every_option = True
            after: set[str] | None = set()
            for branch in arg[1]:
                inner, branch_after = _whole_words(list(branch), partial)
                best = min(inner, key=_word_group_weight) if inner else None
                if best is None:
                    every_option = False
                else:
                    options.update(best)
                if branch_after is None or after is None:
                    after = None
                else:
                    after.update(branch_after)
            if every_option and options:
                groups.append(frozenset(options))
            partial = None if after is None else frozenset(after)
        elif op in (constants.MAX_REPEAT, constants.MIN_REPEAT):
            low, high, sub = arg
            inner, once = _whole_words(list(sub), partial)
            if low >= 1:
                groups.extend(inner)
            if high == 1:  # read once, or (low 0) maybe not at all
                if low:
                    partial = once
                else:
                    partial = None if once is None or partial is None else partial | once
            elif once == _WORD_START and (low >= 1 or partial == _WORD_START):
                partial = _WORD_START  # whole words repeated: a word starts after them
            else:
                partial = None
        else:
            partial = None  # a class, \w, any character...: the word is unknown
        if partial is not None and len(partial) > _MAX_PARTIAL_WORDS:
            partial = None
    return groups, partial


def _build_matcher(rules: Iterable[Rule]) -> Matcher:
    ordered = sorted(rules, key=lambda rule: -rule.level.rank)
    compiled: list[tuple[re.Pattern[str], Rule]] = []
    index: dict[str, list[int]] = defaultdict(list)
    always: list[int] = []
    requirements: list[tuple[frozenset[str], ...]] = []
    words: list[tuple[frozenset[str], ...]] = []
    needing: dict[str, list[int]] = defaultdict(list)
    for rule in ordered:
        for pattern in rule.patterns:
            number = len(compiled)
            requirements.append(_requirements(pattern))
            words.append(_word_groups(pattern))
            # No leading \b: the scanner checks the word start itself, and a leading
            # assertion would stop the engine from skipping ahead to a first character.
            compiled.append((_factored(pattern), rule))
            keys = _index_keys(pattern)
            if keys is None:
                always.append(number)
                character = _required_character(pattern)
                if character is not None and not words[number]:
                    needing[character].append(number)
            else:
                for key in keys:
                    index[key].append(number)
    second = tuple(_second(groups) for groups in requirements)
    ranks = range(max((len(groups) for groups in words), default=0))
    word_tests = [_filed([g[rank] if rank < len(g) else None for g in words]) for rank in ranks]
    word_free = [[n for n, g in enumerate(words) if rank >= len(g)] for rank in ranks]
    return Matcher(
        patterns=tuple(compiled),
        index={key: tuple(ids) for key, ids in index.items()},
        always=tuple(always),
        index_sets={key: frozenset(ids) for key, ids in index.items()},
        requirements=tuple(requirements),
        second=second,
        size=len(compiled),
        key_masks=_masks(len(compiled), index, _filed(second)),
        key_free=_masks_free(
            len(compiled), [always, [n for n, g in enumerate(second) if g is None]]
        ),
        word_masks=_masks(len(compiled), *word_tests),
        word_free=_masks_free(len(compiled), word_free),
        word_tests=len(word_tests),
        character_tests=tuple(
            (char, _masks_free(len(compiled), [ids])) for char, ids in needing.items()
        ),
        regexes=tuple(regex for regex, _ in compiled),
        sources=tuple(pattern for rule in ordered for pattern in rule.patterns),
        rules=tuple(rule for _, rule in compiled),
        words=tuple(words),
    )


def _required_character(pattern: str) -> str | None:
    """A literal character outside any alternation, repeat or look-around, which every
    match therefore contains (None if there is none)."""
    constants = re._constants  # type: ignore[attr-defined]
    for op, arg in _parsed(pattern):
        if op is constants.LITERAL:
            return chr(arg)
    return None


def _filed(groups: Sequence[Iterable[str] | None]) -> dict[str, list[int]]:
    """word -> numbers of the patterns whose group holds it."""
    filed: dict[str, list[int]] = defaultdict(list)
    for number, group in enumerate(groups):
        for word in group or ():
            filed[word].append(number)
    return filed


def _masks(size: int, *tests: dict[str, list[int]]) -> dict[str, int]:
    """word -> bit mask over all tests: bit t * size + n when test t files pattern n
    under the word."""
    masks: dict[str, int] = defaultdict(int)
    for rank, test in enumerate(tests):
        for word, numbers in test.items():
            for number in numbers:
                masks[word] |= 1 << (rank * size + number)
    return dict(masks)


def _masks_free(size: int, free: Sequence[Iterable[int]]) -> int:
    """The mask of the patterns that pass test t whatever the words (bit t * size + n)."""
    mask = 0
    for rank, numbers in enumerate(free):
        for number in numbers:
            mask |= 1 << (rank * size + number)
    return mask


@cache
def _factored(pattern: str) -> re.Pattern[str]:
    """`re.compile(pattern)`, with its alternations laid out as a tree of first letters.

    Python's engine tries the options of an alternation one by one at every position it
    looks at, so a list of fifty words costs fifty tests per character. Here the options
    that start with the same letter become one option (``hurt|hurts|hit`` is
    ``h(?:urt|urts|it)``), so that the engine drops all but one at the first letter. The
    match is the same, character for character:

    - a (?:...) group without flags only groups: its items are spliced in;
    - two options that start with different letters never both match at one position,
      so grouping the options of a run that all start with a letter cannot change which
      one the engine takes first; the order within a letter is kept;
    - ``cX|cY`` is ``c(?:X|Y)``, as the re parser itself rewrites a prefix shared by all
      options. Lookbehinds are left as written.

    The result's `.pattern` is None (it is compiled from the parsed tree).
    """
    parsed = _parsed(pattern)
    return _compile_items(list(parsed), parsed.state)


def _factor_items(items: Sequence[Any], state: Any) -> list[Any]:
    constants = re._constants  # type: ignore[attr-defined]
    subpattern = re._parser.SubPattern  # type: ignore[attr-defined]
    out: list[Any] = []
    for op, arg in items:
        if op is constants.SUBPATTERN and arg[0] is None and not arg[1] and not arg[2]:
            out.extend(_factor_items(list(arg[3]), state))
        elif op is constants.SUBPATTERN:
            group, add_flags, del_flags, body = arg
            inner = subpattern(state, _factor_items(list(body), state))
            out.append((op, (group, add_flags, del_flags, inner)))
        elif op is constants.BRANCH:
            options = [_factor_items(list(option), state) for option in arg[1]]
            options = _factor_options(options, state)
            out.append((op, (None, [subpattern(state, option) for option in options])))
        elif op in (constants.MAX_REPEAT, constants.MIN_REPEAT):
            low, high, body = arg
            out.append((op, (low, high, subpattern(state, _factor_items(list(body), state)))))
        elif op in (constants.ASSERT, constants.ASSERT_NOT) and arg[0] == 1:  # look-ahead
            direction, body = arg
            out.append((op, (direction, subpattern(state, _factor_items(list(body), state)))))
        else:
            out.append((op, arg))
    return out


def _factor_options(options: list[list[Any]], state: Any) -> list[list[Any]]:
    """The options of an alternation, those of each run that start with a letter merged
    by their first letter (see `_factored`)."""
    constants = re._constants  # type: ignore[attr-defined]
    subpattern = re._parser.SubPattern  # type: ignore[attr-defined]
    factored: list[list[Any]] = []
    run: list[list[Any]] = []

    def merge_run() -> None:
        by_letter: dict[int, list[list[Any]]] = {}
        for option in run:
            by_letter.setdefault(option[0][1], []).append(option[1:])
        for letter, rests in by_letter.items():
            head = [(constants.LITERAL, letter)]
            merged = rests if len(rests) == 1 else _factor_options(rests, state)
            if len(merged) == 1:
                factored.append(head + merged[0])
            else:
                branch = (None, [subpattern(state, option) for option in merged])
                factored.append([*head, (constants.BRANCH, branch)])
        run.clear()

    for option in options:
        if option and option[0][0] is constants.LITERAL:
            run.append(option)
        else:
            merge_run()
            factored.append(option)
    merge_run()
    return factored


# More options than this after spreading a context's leading alternations
# (`_leading_options`): keep the pattern as one test.
_MAX_OPTIONS = 500


def _context_tests(pattern: str | None) -> tuple[ContextTest, ...]:
    """A context's pattern (or `unless`) as tests of its options, each with its words.

    A context only asks whether its pattern matches at a word start of a span, not where
    or how; that holds exactly where one of the options of its alternation does. A
    context's pattern is long (dozens of words and phrases), so searched whole it costs
    about as much as all its options; most messages have the words of one or two of
    them, and the gate finds which (`Gate`), so the detector searches for those only.
    Options are read after spreading out the alternations and groups a pattern starts
    with (``(?:a|b)c`` is ``ac|bc``).
    """
    if pattern is None:
        return (ContextTest(regex=None, keys=None, words=()),)
    parsed = _parsed(pattern)
    options = _leading_options(list(parsed))
    if len(options) > _MAX_OPTIONS:
        options = [list(parsed)]
    return tuple(
        ContextTest(
            regex=_compile_items(_after_first_letter(option, parsed.state), parsed.state),
            keys=_keys_of(option),
            words=_word_groups_of(option, ends_word=False),
        )
        for option in options
    )


def _leading_options(items: list[Any]) -> list[list[Any]]:
    """The options of a parsed pattern, with every alternation or group it starts with
    spread out: ``(?:a|b)c`` gives ``ac`` and ``bc``, and a test of the position before
    them goes with each: ``(?<!x)(?:a|b)`` gives ``(?<!x)a`` and ``(?<!x)b``."""
    constants = re._constants  # type: ignore[attr-defined]
    if items and items[0][0] in (constants.AT, constants.ASSERT, constants.ASSERT_NOT):
        return [[items[0], *option] for option in _leading_options(items[1:])]
    if items and items[0][0] is constants.SUBPATTERN:
        group, add_flags, del_flags, body = items[0][1]
        if group is None and not add_flags and not del_flags:
            return _leading_options(list(body) + items[1:])
    if items and items[0][0] is constants.BRANCH:
        options: list[list[Any]] = []
        for branch in items[0][1][1]:
            options.extend(_leading_options(list(branch) + items[1:]))
            if len(options) > _MAX_OPTIONS:
                return [items]
        return options
    return [items]


def _after_first_letter(items: list[Any], state: Any) -> list[Any]:
    """`items` with the look-behinds they start with moved after the literal that follows
    them, which each then also reads: ``(?<!x)a`` is ``a(?<!xa)``, the same test. A
    pattern that starts with a literal lets the engine skip to where it can match instead
    of trying the look-behinds at every position."""
    constants = re._constants  # type: ignore[attr-defined]
    subpattern = re._parser.SubPattern  # type: ignore[attr-defined]
    count = 0
    while (
        count < len(items)
        and items[count][0] in (constants.ASSERT, constants.ASSERT_NOT)
        and items[count][1][0] == -1
    ):
        count += 1
    if not count or count == len(items) or items[count][0] is not constants.LITERAL:
        return items
    first = items[count]
    moved = [(op, (-1, subpattern(state, [*body, first]))) for op, (_, body) in items[:count]]
    return [first, *moved, *items[count + 1 :]]


def _compile_items(items: list[Any], state: Any) -> re.Pattern[str]:
    """A parsed pattern compiled, its alternations as trees of first letters (`_factored`)."""
    tree = re._parser.SubPattern(state, _factor_items(items, state))  # type: ignore[attr-defined]
    return re._compiler.compile(tree, 0)  # type: ignore[attr-defined]


def _as_list(value: object, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise LexiconError(f"{where}: expected a list of strings")
    return list(value)


def _compile_context(entry: dict[str, Any], macros: dict[str, str]) -> ContextRule:
    context_id = str(entry.get("id", ""))
    scope = str(entry.get("scope", "sentence"))
    if scope not in _SCOPES:
        raise LexiconError(f"context {context_id}: unknown scope {scope}")
    effect = str(entry.get("effect", "discount"))
    if effect not in _EFFECTS:
        raise LexiconError(f"context {context_id}: unknown effect {effect}")

    def join(key: str) -> str | None:
        patterns = _as_list(entry.get(key), f"context {context_id}.{key}")
        if not patterns:
            return None
        expanded = [
            _expand(p, macros, f"context {context_id}").replace(" ", r"\s+") for p in patterns
        ]
        # A leading \b would stop the engine from skipping ahead by first character;
        # the detector checks that a context match starts a word (detector._search_word).
        expanded = [p[2:] if p.startswith("\\b") else p for p in expanded]
        joined = "|".join(f"(?:{p})" for p in expanded)
        try:
            re.compile(joined)
        except re.error as error:
            raise LexiconError(f"context {context_id}: {error}") from error
        return joined

    pattern = join("patterns")
    unless = join("unless")
    unless_scope = str(entry.get("unless_scope", scope))
    if unless_scope not in _SCOPES | {"match"}:
        raise LexiconError(f"context {context_id}: unknown unless_scope {unless_scope}")
    return ContextRule(
        id=context_id,
        scope=scope,
        effect=effect,
        pattern=_factored(pattern) if pattern is not None else None,
        unless=_factored(unless) if unless is not None else None,
        tests=_context_tests(pattern),
        unless_tests=_context_tests(unless) if unless is not None else (),
        unless_scope=unless_scope,
        comment=str(entry.get("comment", "")),
    )


def _shared_patterns(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The [[context]] entries with ``patterns_from = "<id>"`` given that earlier context's
    patterns (its `unless`, scope and effect stay their own): one list for two contexts that
    differ only in what they do, such as `joke` and `joke_soft`."""
    by_id: dict[str, dict[str, Any]] = {}
    resolved = []
    for entry in entries:
        context_id = str(entry.get("id", ""))
        source_id = entry.get("patterns_from")
        if source_id is not None:
            source = by_id.get(str(source_id))
            if "patterns" in entry or source is None or "patterns_from" in source:
                raise LexiconError(
                    f"context {context_id}: patterns_from must name an earlier context with "
                    "patterns of its own, and replaces `patterns`"
                )
            entry = {**entry, "patterns": source.get("patterns")}
        by_id[context_id] = entry
        resolved.append(entry)
    return resolved


def load_lexicon(path: Path = LEXICON_PATH) -> Lexicon:
    """Read, check and compile a lexicon file."""
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    macros = {str(k): str(v) for k, v in data.get("macros", {}).items()}
    defaults = {str(k): _as_list(v, f"defaults.{k}") for k, v in data.get("defaults", {}).items()}
    contexts = {
        ctx.id: ctx
        for ctx in (_compile_context(e, macros) for e in _shared_patterns(data.get("context", [])))
    }

    rules: list[Rule] = []
    seen: set[str] = set()
    words: set[str] = set()
    for entry in data.get("rule", []):
        rule_id = str(entry.get("id", ""))
        if not _RULE_ID.fullmatch(rule_id) or rule_id in seen:
            raise LexiconError(f"rule id {rule_id!r} is malformed or repeated")
        seen.add(rule_id)
        kind = str(entry.get("kind", ""))
        if kind not in defaults:
            raise LexiconError(f"rule {rule_id}: kind {kind!r} has no [defaults] entry")
        context_ids = tuple(_as_list(entry.get("contexts"), rule_id) or defaults[kind])
        for context_id in context_ids:
            if context_id not in contexts:
                raise LexiconError(f"rule {rule_id}: unknown context {context_id}")
        patterns = []
        for raw in _as_list(entry.get("patterns"), rule_id):
            expanded = _expand(raw, macros, rule_id)
            words.update(re.findall(r"(?<![\\?(])\b[a-z]{2,}\b", expanded))
            prepared = _prepare(expanded)
            try:
                compiled = _factored(prepared)  # compiled once here, kept for the matcher
            except re.error as error:
                raise LexiconError(f"rule {rule_id}: {error} in {raw!r}") from error
            if compiled.groups:
                raise LexiconError(f"rule {rule_id}: capturing group in {raw!r}; use (?:...)")
            patterns.append(prepared)
        try:
            level = Level(entry.get("level", "none"))
            category = Category(entry["category"])
        except (KeyError, ValueError) as error:
            raise LexiconError(f"rule {rule_id}: bad level or category") from error
        rules.append(
            Rule(
                id=rule_id,
                level=level,
                rank=level.rank,
                category=category,
                kind=kind,
                tags=frozenset(_as_list(entry.get("tags"), rule_id)),
                contexts=context_ids,
                hold=bool(entry.get("hold", False)),
                patterns=tuple(patterns),
                comment=str(entry.get("comment", "")),
            )
        )

    combos = []
    for entry in data.get("combo", []):
        combo_level = Level(entry.get("level", "imminent"))
        combos.append(
            Combo(
                id=str(entry["id"]),
                level=combo_level,
                rank=combo_level.rank,
                first=frozenset(_as_list(entry.get("first"), str(entry["id"]))),
                second=frozenset(_as_list(entry.get("second"), str(entry["id"]))),
                recent=bool(entry.get("recent", False)),
                comment=str(entry.get("comment", "")),
            )
        )
    known_tags = {tag for rule in rules for tag in rule.tags}
    for combo in combos:
        unknown = (combo.first | combo.second) - known_tags
        if unknown:
            raise LexiconError(f"combo {combo.id}: no rule has tags {sorted(unknown)}")

    matcher = _build_matcher(rules)
    tests: list[ContextTest] = []
    for context_id, context in contexts.items():
        first = len(tests)
        tests += context.tests
        middle = len(tests)
        tests += context.unless_tests
        contexts[context_id] = replace(
            context,
            mask=(1 << middle) - (1 << first),
            unless_mask=(1 << len(tests)) - (1 << middle),
        )
    gate = _build_gate(matcher, tests)
    _parsed.cache_clear()
    _factored.cache_clear()
    return Lexicon(
        rules=tuple(rules),
        matcher=matcher,
        contexts=contexts,
        combos=tuple(combos),
        words=frozenset(words),
        rule_contexts={rule.id: tuple(contexts[c] for c in rule.contexts) for rule in rules},
        combo_tags=frozenset(tag for combo in combos for tag in combo.first | combo.second),
        gate=gate,
        rule_context_bits={rule.id: _context_bits(rule, contexts) for rule in rules},
        rule_combo_bits=_combo_bits(rules, combos),
    )


def _combo_bits(rules: Iterable[Rule], combos: Sequence[Combo]) -> dict[str, ComboBits]:
    by_first = _masks(len(combos), _filed([combo.first for combo in combos]))
    by_second = _masks(len(combos), _filed([combo.second for combo in combos]))
    partners = _combo_partners(combos)
    tag_bit = {tag: 1 << n for n, tag in enumerate(sorted(partners))}
    out = {}
    for rule in rules:
        first = second = tags = partner_tags = 0
        for tag in rule.tags:
            first |= by_first.get(tag, 0)
            second |= by_second.get(tag, 0)
            tags |= tag_bit.get(tag, 0)
            for partner in partners.get(tag, ()):
                partner_tags |= tag_bit[partner]
        out[rule.id] = ComboBits(first=first, second=second, tags=tags, partners=partner_tags)
    return out


def _context_bits(
    rule: Rule, contexts: dict[str, ContextRule]
) -> tuple[int, tuple[ContextRule, ...]]:
    mask = 0
    for context_id in rule.contexts:
        mask |= contexts[context_id].mask
    return mask, tuple(contexts[c] for c in rule.contexts)


def _combo_partners(combos: Iterable[Combo]) -> dict[str, frozenset[str]]:
    partners: dict[str, set[str]] = defaultdict(set)
    for combo in combos:
        for tag in combo.first:
            partners[tag].update(combo.second)
        for tag in combo.second:
            partners[tag].update(combo.first)
    return {tag: frozenset(others) for tag, others in partners.items()}


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    """The lexicon shipped with the package, compiled once."""
    return load_lexicon()


def lexicon_vocabulary() -> frozenset[str]:
    """Plain words used in the lexicon (for re-joining spaced-out letters)."""
    return lexicon().words
