"""Load data/lexicon.toml and compile it, once, into a few fast matchers.

The rules are data; this module only checks and compiles them. All patterns of one group
(risk signals; cues such as times and means) become ONE regular expression, so a message is
scanned once per group whatever the number of rules. Two things keep that fast with the
standard `re` module:

- each alternative ends with an empty group ``()``, so ``match.lastindex`` names the
  pattern that matched and ``match.start(lastindex)`` is where it ended, without a
  capturing group at its start (a leading group would defeat the engine's quick
  rejection of alternatives by their first character); the whole alternation sits in a
  lookahead, so matches may overlap and every word start is tried;
- alternatives are grouped by the set of characters they can start with, behind a
  lookahead, so at each word start only the few alternatives that can match are tried.
"""

from __future__ import annotations

import re
import tomllib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from moderation.detection.assessment import Category, Level

DATA_DIR = Path(__file__).resolve().parent / "data"
LEXICON_PATH = DATA_DIR / "lexicon.toml"

_MACRO = re.compile(r"\{([a-z_]+)\}")
_RULE_ID = re.compile(r"[a-z_]+\.[a-z_]+")
_SCOPES = frozenset({"before", "sentence", "message", "quote"})
_EFFECTS = frozenset({"discount", "cap_watch"})


class LexiconError(ValueError):
    """The lexicon data is malformed; raised at import so a bad edit never ships."""


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    level: Level
    category: Category
    kind: str
    tags: frozenset[str]
    contexts: tuple[str, ...]
    hold: bool
    patterns: tuple[str, ...]
    comment: str


@dataclass(frozen=True, slots=True)
class ContextRule:
    id: str
    scope: str
    effect: str
    pattern: re.Pattern[str] | None
    unless: re.Pattern[str] | None
    unless_scope: str
    comment: str


@dataclass(frozen=True, slots=True)
class Combo:
    id: str
    level: Level
    first: frozenset[str]
    second: frozenset[str]
    recent: bool
    comment: str


@dataclass(frozen=True, slots=True)
class Matcher:
    """One compiled regex for a group of rules; group index -> rule."""

    regex: re.Pattern[str]
    rule_of_group: tuple[Rule | None, ...]


@dataclass(frozen=True, slots=True)
class Lexicon:
    rules: tuple[Rule, ...]
    signals: Matcher
    cues: Matcher
    contexts: dict[str, ContextRule]
    combos: tuple[Combo, ...]
    words: frozenset[str]


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
    pattern = pattern.replace(" ", r"\s+")
    return pattern if prefix_only else pattern + r"(?![a-z0-9])"


def _first_chars(pattern: str) -> frozenset[str] | None:
    """The characters a pattern can start with, when that is easy to know."""
    try:
        parsed = re._parser.parse(pattern)  # type: ignore[attr-defined]
    except re.error:
        return None
    return _first_of(list(parsed))


def _first_of(items: Sequence[Any]) -> frozenset[str] | None:  # noqa: PLR0911
    constants = re._constants  # type: ignore[attr-defined]
    for op, arg in items:
        if op is constants.AT:
            continue
        if op is constants.LITERAL:
            return frozenset(chr(arg))
        if op is constants.IN:
            chars: set[str] = set()
            for sub_op, sub_arg in arg:
                if sub_op is constants.LITERAL:
                    chars.add(chr(sub_arg))
                elif sub_op is constants.RANGE:
                    chars.update(chr(c) for c in range(sub_arg[0], sub_arg[1] + 1))
                else:
                    return None
            return frozenset(chars)
        if op is constants.BRANCH:
            union: set[str] = set()
            for branch in arg[1]:
                first = _first_of(list(branch))
                if first is None:
                    return None
                union.update(first)
            return frozenset(union)
        if op is constants.SUBPATTERN:
            return _first_of(list(arg[-1]))
        if op in (constants.MAX_REPEAT, constants.MIN_REPEAT) and arg[0] >= 1:
            return _first_of(list(arg[2]))
        return None
    return None


def _char_class(chars: frozenset[str]) -> str:
    return "[" + "".join(re.escape(c) for c in sorted(chars)) + "]"


def _build_matcher(rules: Iterable[Rule]) -> Matcher:
    ordered = sorted(rules, key=lambda rule: -rule.level.rank)
    owners: list[Rule | None] = [None]  # group 0 is the whole match
    parts: list[str] = []
    index_of: list[tuple[Rule, str]] = []
    for rule in ordered:
        for pattern in rule.patterns:
            index_of.append((rule, pattern))
    by_first: dict[frozenset[str] | None, list[tuple[Rule, str]]] = defaultdict(list)
    for rule, pattern in index_of:
        by_first[_first_chars(pattern)].append((rule, pattern))
    for first, entries in by_first.items():
        alternatives = []
        for rule, pattern in entries:
            owners.append(rule)
            alternatives.append(f"(?:{pattern})()")
        joined = "|".join(alternatives)
        if first is None:
            parts.append(joined)
        else:
            parts.append(f"(?={_char_class(first)})(?:{joined})")
    # Zero-width (a lookahead) so that matches may overlap: "so tired" (watch) must not
    # hide "tired of existing" (high). The empty group of each alternative marks its end.
    regex = re.compile(r"\b(?=" + "|".join(parts) + ")") if parts else re.compile(r"(?!)")
    if regex.groups != len(owners) - 1:
        raise LexiconError("a lexicon pattern has a capturing group; use (?:...)")
    return Matcher(regex=regex, rule_of_group=tuple(owners))


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

    def join(key: str) -> re.Pattern[str] | None:
        patterns = _as_list(entry.get(key), f"context {context_id}.{key}")
        if not patterns:
            return None
        expanded = [
            _expand(p, macros, f"context {context_id}").replace(" ", r"\s+") for p in patterns
        ]
        try:
            return re.compile("|".join(f"(?:{p})" for p in expanded))
        except re.error as error:
            raise LexiconError(f"context {context_id}: {error}") from error

    return ContextRule(
        id=context_id,
        scope=scope,
        effect=effect,
        pattern=join("patterns"),
        unless=join("unless"),
        unless_scope=str(entry.get("unless_scope", scope)),
        comment=str(entry.get("comment", "")),
    )


def load_lexicon(path: Path = LEXICON_PATH) -> Lexicon:
    """Read, check and compile a lexicon file."""
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    macros = {str(k): str(v) for k, v in data.get("macros", {}).items()}
    defaults = {str(k): _as_list(v, f"defaults.{k}") for k, v in data.get("defaults", {}).items()}
    contexts = {
        ctx.id: ctx for ctx in (_compile_context(e, macros) for e in data.get("context", []))
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
                compiled = re.compile(prepared)
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
        combos.append(
            Combo(
                id=str(entry["id"]),
                level=Level(entry.get("level", "imminent")),
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

    return Lexicon(
        rules=tuple(rules),
        signals=_build_matcher(rule for rule in rules if rule.level > Level.NONE),
        cues=_build_matcher(rule for rule in rules if rule.level == Level.NONE),
        contexts=contexts,
        combos=tuple(combos),
        words=frozenset(words),
    )


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    """The lexicon shipped with the package, compiled once."""
    return load_lexicon()


def lexicon_vocabulary() -> frozenset[str]:
    """Plain words used in the lexicon (for re-joining spaced-out letters)."""
    return lexicon().words
