"""Text normalisation: undo the spellings people use to get past word filters.

Every step works on the whole message with one compiled regex (or `str.translate`) and
records what it changed, so that a match in the normalised text can be mapped back to the
span of the original text that a facilitator will see. The tables (look-alike letters,
leetspeak, emoji, slang and misspellings, the vocabulary used to re-join spaced-out
words) are data: ``data/normalise.toml``.

The steps, in order:

1. Unicode: compatibility forms (NFKC: full-width and "fancy" letters), accents and
   zalgo marks dropped, look-alike letters from other scripts mapped to Latin, zero-width
   characters removed, emoji turned into words (``🪦`` -> ``grave``). Only runs on the
   non-ASCII parts of a message.
2. Lower case; hyphens and underscores become spaces (``self-harm`` = ``self harm``).
3. Leetspeak and masking inside a word: ``k1ll``, ``5uicide``, ``d!e``, ``s*icidal``.
   A digit is only read as a letter when the result is a known word or the digit sits
   between letters, so ``3am``, ``60 days`` and ``ps5`` stay as they are.
4. Letters spaced out or split by dots (``k m s``, ``c.u.t``), re-joined and split into
   known words (``k i l l m y s e l f`` -> ``kill myself``).
5. Stretched letters (``sooo``, ``diiieee``) shortened to a known word.
6. Slang, algospeak and common misspellings mapped to one plain spelling (``kms`` ->
   ``kill myself``, ``sewer slide`` -> ``suicide``, ``gonna`` -> ``going to``).

Apostrophes inside words are dropped after step 2 (``i'm`` = ``im``, ``don't`` = ``dont``),
so that "missing apostrophes" are simply the normal form and the lexicon never writes one.
"""

from __future__ import annotations

import bisect
import re
import string
import tomllib
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

DATA_DIR = Path(__file__).resolve().parent / "data"

# (new_start, new_end, old_start, old_end) for one replaced span, in text order.
Edit = tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class Normalised:
    """A normalised message and the way back to the original's offsets."""

    original: str
    text: str
    steps: tuple[tuple[Edit, ...], ...] = ()

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a span of `text` to the span of `original` it came from."""
        for edits in reversed(self.steps):
            start = _map_back(edits, start, is_end=False)
            end = _map_back(edits, end, is_end=True)
        return start, max(start, end)


_NEW_START = itemgetter(0)


def _map_back(edits: tuple[Edit, ...], pos: int, *, is_end: bool) -> int:
    if is_end:
        index = bisect.bisect_left(edits, pos, key=_NEW_START) - 1  # last edit starting before pos
        if index < 0:
            return pos
        _, new_end, _, old_end = edits[index]
        return old_end if pos <= new_end else pos - new_end + old_end
    index = bisect.bisect_right(edits, pos, key=_NEW_START) - 1  # last edit at or before pos
    if index < 0:
        return pos
    _, new_end, old_start, old_end = edits[index]
    return old_start if pos < new_end else pos - new_end + old_end


def _tracked_sub(
    pattern: re.Pattern[str], replace: Callable[[re.Match[str]], str], text: str
) -> tuple[str, tuple[Edit, ...]]:
    """`pattern.sub(replace, text)`, also returning the edits it made."""
    parts: list[str] = []
    edits: list[Edit] = []
    last = 0
    shift = 0
    for match in pattern.finditer(text):
        new = replace(match)
        old_start, old_end = match.span()
        if new == match.group():
            continue
        parts.append(text[last:old_start])
        parts.append(new)
        new_start = old_start + shift
        edits.append((new_start, new_start + len(new), old_start, old_end))
        shift += len(new) - (old_end - old_start)
        last = old_end
    if not edits:
        return text, ()
    parts.append(text[last:])
    return "".join(parts), tuple(edits)


class _Tables:
    """The data of data/normalise.toml, compiled once."""

    def __init__(self, data: dict[str, object], extra_vocabulary: Iterable[str]) -> None:
        self.confusables: dict[str, str] = _str_map(data, "confusables")
        self.emoji: dict[str, str] = _str_map(data, "emoji")
        self.leet: dict[str, str] = _str_map(data, "leet")
        # The same as translate tables (a key longer than a character can never be looked
        # up one character at a time, so it is left out).
        single = {key: value for key, value in self.leet.items() if len(key) == 1}
        self.leet_table = str.maketrans(single)
        self.leet_table_one_as_l = str.maketrans({**single, "1": "l"})
        slang = _str_map(data, "slang")
        self.slang = {_slang_key(key): value for key, value in slang.items()}
        self.mask_targets: tuple[str, ...] = tuple(_str_list(data, "mask_targets"))
        vocabulary = set(_str_list(data, "vocabulary"))
        vocabulary.update(extra_vocabulary)
        for key, value in slang.items():
            vocabulary.update(key.replace("'", "").split())
            vocabulary.update(value.split())
        vocabulary.update(self.mask_targets)
        self.vocabulary = frozenset(word for word in vocabulary if word.isalpha())
        self.max_word = max((len(word) for word in self.vocabulary), default=1)

        leet_chars = "".join(sorted(self.leet)) + "*"
        cls = re.escape(leet_chars)
        # A token in which a leet character touches a letter.
        self.leet_re = re.compile(
            rf"[a-z0-9{cls}]*(?:[a-z][0-9{cls}]|[0-9{cls}][a-z])[a-z0-9{cls}]*"
        )
        self.spaced_re = re.compile(
            r"(?<![a-z0-9'])[a-z](?![a-z0-9'])(?:(?: ?[.*'] ?| {1,2})[a-z](?![a-z0-9'])){2,}"
        )
        self.stretched_re = re.compile(r"[a-z]*([a-z])\1\1[a-z]*")
        self.leet_hint = re.compile(rf"[0-9{cls}]")
        # Three single letters apart: "x y z", "x.y.z". Written from the first separator,
        # with the first letter in a look-behind, so that the engine only tries at
        # separators (about one character in five) instead of at every letter.
        self.spaced_hint = re.compile(
            r"[ .*](?<=(?<![a-z0-9])[a-z][ .*])[ .*]{0,2}[a-z][ .*]{1,3}[a-z](?![a-z0-9])"
        )
        self.stretched_hint = re.compile(r"([a-z])\1\1")
        # One alternation of every key, bucketed by first letter behind a lookahead so the
        # engine only tries the keys that can start at each position.
        # Keys match whole words only; the lookbehind also saves the callbacks that
        # single-letter keys ("u", "r") would cost inside every word.
        self.slang_re = re.compile(
            "(?<![a-z0-9'])(?:" + _literal_trie(sorted(slang)) + ")(?![a-z0-9])"
        )
        # A match of slang_re starts a token (a run of [a-z0-9], `tokens`) and each run
        # of [a-z0-9] in its key is a whole token of the text ("not gonna lie": "not",
        # "gonna" and "lie"), so a message without all the tokens of some key has no
        # match. Here: the keys of one token, and the keys of several by their last token
        # (rarer than the first in most: "want 2", "not gonna lie") -> the sets of their
        # other tokens. Keys that map to themselves ("lol", "pills") are left out: alone,
        # their matches change nothing. None: some key does not start with a token (then
        # no such test).
        words: set[str] = set()
        by_last: dict[str, list[frozenset[str]]] = {}
        self.slang_tokens: SlangTokens | None = None
        for key, value in self.slang.items():
            if _TOKEN.match(key) is None:
                break
            if value != key or not key.isalnum():
                *rest, last = _TOKEN.findall(key)
                if rest:
                    by_last.setdefault(last, []).append(frozenset(rest))
                else:
                    words.add(last)
        else:
            phrases = {last: tuple(rests) for last, rests in by_last.items()}
            self.slang_tokens = SlangTokens(
                frozenset(words), phrases, frozenset(words | phrases.keys())
            )
        self.hyphen_table = str.maketrans({"-": " ", "_": " ", "\u2019": "'", "`": "'"})
        # The same for ASCII text, where bytes.translate is ten times faster.
        self.ascii_hyphen_table = bytes.maketrans(b"-_`", b"  '")


def _str_map(data: dict[str, object], name: str) -> dict[str, str]:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise ValueError(f"normalise.toml: [{name}] must be a table")
    out: dict[str, str] = {}
    for key, value in table.items():
        if isinstance(value, dict):  # a sub-table grouping entries, for comments
            for sub_key, sub_value in value.items():
                out[str(sub_key)] = str(sub_value)
        else:
            out[str(key)] = str(value)
    return out


def _str_list(data: dict[str, object], name: str) -> list[str]:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise ValueError(f"normalise.toml: [{name}] must be a table")
    words = table.get("words", [])
    if not isinstance(words, list):
        raise ValueError(f"normalise.toml: [{name}].words must be a list")
    return [str(word) for word in words]


def _slang_key(key: str) -> str:
    return " ".join(key.replace("'", "").split())


_Trie = dict[str, "_Trie"]


def _literal_trie(words: Iterable[str]) -> str:
    """A regex matching any of `words` (spaces match any white space), as a trie of their
    letters: the engine rejects an alternative by its first letter, so this costs about
    one step per character of text instead of one per word of the list."""
    tree: _Trie = {}
    for word in words:
        node = tree
        for char in " ".join(word.replace("'", "").split()):
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: _Trie) -> str:
        branches = []
        optional = False
        for char, child in sorted(node.items()):
            if char == "":
                optional = True
                continue
            piece = r"\s+" if char == " " else re.escape(char)
            branches.append(piece + emit(child))
        if not branches:
            return ""
        body = (
            branches[0] if len(branches) == 1 and not optional else "(?:" + "|".join(branches) + ")"
        )
        return body + "?" if optional and body else body

    return emit(tree)


@lru_cache(maxsize=1)
def _tables() -> _Tables:
    from moderation.detection.lexicon import lexicon_vocabulary

    with (DATA_DIR / "normalise.toml").open("rb") as handle:
        data = tomllib.load(handle)
    return _Tables(data, lexicon_vocabulary())


_TOKEN = re.compile(r"[a-z0-9]+")
# For ASCII text the same runs come faster from a split once every other byte is a space.
_ASCII_NON_TOKEN_TO_SPACE = bytes(
    c if chr(c) in string.ascii_lowercase + string.digits else ord(" ") for c in range(256)
)


def tokens(text: str) -> list[str]:
    """The whole words of a (normalised) text, in order: its runs of [a-z0-9]. A list, not
    a set: building the set costs more than looking a repeated word up twice."""
    if text.isascii():
        return text.encode().translate(_ASCII_NON_TOKEN_TO_SPACE).decode().split()
    return _TOKEN.findall(text)


# An apostrophe between a letter or digit and a letter; the look-behind is written after
# the apostrophe (width 2) so that the engine can look for apostrophes only.
_APOSTROPHE = re.compile(r"'(?<=[a-z0-9]')(?=[a-z])")
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad\ufe0f\ufe0e")


def _unicode_run(tables: _Tables, run: str) -> str:
    out: list[str] = []
    for char in run:
        if char in _ZERO_WIDTH:
            continue
        word = tables.emoji.get(char)
        if word is not None:
            out.append(f" {word} ")
            continue
        mapped = tables.confusables.get(char)
        if mapped is not None:
            out.append(mapped)
            continue
        folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", char).casefold())
        stripped = "".join(c for c in folded if not unicodedata.combining(c))
        out.append("".join(tables.confusables.get(c, c) for c in stripped))
    return "".join(out)


_NUMBERISH = re.compile(r"\d+(?:st|nd|rd|th|am|pm|s|k|h|hrs?|mins?|x|yo|yrs?|m|mg|ml|kg|lbs?|ish)?")


def _decode_leet(tables: _Tables, token: str) -> str:
    if _NUMBERISH.fullmatch(token):
        return token
    # Keep leading/trailing symbols that are punctuation or mentions ("@sam", "wow!!").
    core_start, core_end = 0, len(token)
    while core_start < core_end and not token[core_start].isalnum():
        core_start += 1
    while core_end > core_start and not token[core_end - 1].isalnum():
        core_end -= 1
    core = token[core_start:core_end]
    if "*" in core:
        resolved = _unmask(tables, core)
        if resolved is not None:
            return token[:core_start] + resolved + token[core_end:]
    decoded = core.translate(tables.leet_table)
    alternative = decoded
    if "1" in core:  # "1" is read as "i" by default, as "l" when only that makes a word
        alternative = core.translate(tables.leet_table_one_as_l)
    if not decoded.isalpha():
        return token
    if decoded in tables.vocabulary:
        chosen = decoded
    elif alternative in tables.vocabulary:
        chosen = alternative
    elif core[:1].isalpha() and core[-1:].isalpha():
        chosen = decoded  # symbols only between letters: read them
    else:
        return token
    return token[:core_start] + chosen + token[core_end:]


@lru_cache(maxsize=256)
def _mask_regex(masked: str) -> re.Pattern[str]:
    return re.compile("".join("[a-z]" if c == "*" else re.escape(c) for c in masked))


def _unmask(tables: _Tables, core: str) -> str | None:
    if core.count("*") > len(core) // 2:
        return None
    pattern = _mask_regex(core)
    for word in tables.mask_targets:
        if len(word) == len(core) and pattern.fullmatch(word):
            return word
    return None


def _segment(tables: _Tables, letters: str) -> str:
    """Split a run of letters into known words, fewest pieces and unknown letters first."""
    n = len(letters)
    unknown_cost = 3
    best: list[tuple[int, int]] = [(0, 0)] + [(10**9, 0)] * n
    for end in range(1, n + 1):
        for start in range(max(0, end - tables.max_word), end):
            piece = letters[start:end]
            if piece in tables.vocabulary:
                cost = best[start][0] + 1
            elif end - start == 1:
                cost = best[start][0] + unknown_cost
            else:
                continue
            if cost < best[end][0]:
                best[end] = (cost, start)
    words: list[str] = []
    end = n
    while end > 0:
        start = best[end][1]
        words.append(letters[start:end])
        end = start
    return " ".join(reversed(words))


def _join_spaced(tables: _Tables, match: re.Match[str]) -> str:
    letters = "".join(c for c in match.group() if c.isalpha())
    return _segment(tables, letters)


def _unstretch(tables: _Tables, match: re.Match[str]) -> str:
    token = match.group()
    runs = [(m.start(), m.end()) for m in re.finditer(r"([a-z])\1\1+", token)]
    if len(runs) > 4:
        return re.sub(r"([a-z])\1+", r"\1", token)
    candidates: list[str] = []
    for mask in range(1 << len(runs)):
        pieces: list[str] = []
        last = 0
        for bit, (start, end) in enumerate(runs):
            pieces.append(token[last:start])
            pieces.append(token[start] * (2 if mask >> bit & 1 else 1))
            last = end
        pieces.append(token[last:])
        candidates.append("".join(pieces))
    for candidate in candidates:
        if candidate in tables.vocabulary:
            return candidate
    return candidates[0]


def _slang(tables: _Tables, match: re.Match[str]) -> str:
    start = match.start()
    if start and (match.string[start - 1].isalnum() or match.string[start - 1] == "'"):
        return match.group()  # inside a word: "bout" in "about"
    return tables.slang.get(_slang_key(match.group()), match.group())


class SlangTokens(NamedTuple):
    """The tokens of the slang keys (`_Tables.slang_tokens`)."""

    words: frozenset[str]  # the keys of one token
    phrases: dict[str, tuple[frozenset[str], ...]]  # last token -> the others, per key
    either: frozenset[str]  # both: the words and the phrases' last tokens


def _has_slang_tokens(slang_tokens: SlangTokens, words: list[str]) -> bool:
    """Whether `words` hold every token of some slang key."""
    found = slang_tokens.either.intersection(words)  # few or none
    if not found:
        return False
    if not found.isdisjoint(slang_tokens.words):
        return True
    present = set(words)
    phrases = slang_tokens.phrases
    return any(rest <= present for last in found for rest in phrases[last])


def normalise(text: str) -> Normalised:
    """Normalise a message for matching; see the module docstring for the steps."""
    return normalise_with_tokens(text)[0]


def normalise_with_tokens(text: str) -> tuple[Normalised, list[str] | None]:
    """`normalise(text)`, and the normalised text's `tokens` when they were found on the
    way (None: not known, ask `tokens()`)."""
    tables = _tables()
    steps: list[tuple[Edit, ...]] = []
    current = text
    if not current.isascii():
        current, edits = _tracked_sub(
            _NON_ASCII, lambda m: _unicode_run(tables, m.group()), current
        )
        if edits:
            steps.append(edits)
    lowered = current.lower()
    if len(lowered) != len(current):  # a few non-ASCII letters grow when lowered
        lowered = "".join(c.lower() if len(c.lower()) == 1 else c for c in current)
    if lowered.isascii():
        current = lowered.encode().translate(tables.ascii_hyphen_table).decode()
    else:
        current = lowered.translate(tables.hyphen_table)
    if "'" in current:  # "i'm" = "im", "don't" = "dont": patterns are written without
        # Each apostrophe dropped is an edit of its own: (p - k, p - k, p, p + 1) for the
        # k-th one, at p in the text before.
        positions = [match.start() for match in _APOSTROPHE.finditer(current)]
        if positions:
            current = _APOSTROPHE.sub("", current)
            steps.append(tuple((p - k, p - k, p, p + 1) for k, p in enumerate(positions)))

    # Each step first asks a cheap question (is there a digit? three letters in a row?)
    # and only runs its full pattern when the answer is yes.
    if tables.leet_hint.search(current):
        current, edits = _tracked_sub(
            tables.leet_re, lambda m: _decode_leet(tables, m.group()), current
        )
        if edits:
            steps.append(edits)
    if tables.spaced_hint.search(current):
        current, edits = _tracked_sub(tables.spaced_re, lambda m: _join_spaced(tables, m), current)
        if edits:
            steps.append(edits)
    if tables.stretched_hint.search(current):
        current, edits = _tracked_sub(tables.stretched_re, lambda m: _unstretch(tables, m), current)
        if edits:
            steps.append(edits)
    found: list[str] | None = None
    if tables.slang_tokens is not None:
        # The words first (the detector needs them too): most messages have no slang.
        found = tokens(current)
        may_have_slang = _has_slang_tokens(tables.slang_tokens, found)
    else:
        may_have_slang = tables.slang_re.search(current) is not None
    if may_have_slang:
        current, edits = _tracked_sub(tables.slang_re, lambda m: _slang(tables, m), current)
        if edits:
            steps.append(edits)
            found = None
    return Normalised(original=text, text=current, steps=tuple(steps)), found
