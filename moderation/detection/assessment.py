"""The values the detector returns: levels, categories, evidence and the assessment."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Level(StrEnum):
    """Screening level, ordered: NONE < WATCH < HIGH < IMMINENT."""

    NONE = "none"
    WATCH = "watch"
    HIGH = "high"
    IMMINENT = "imminent"

    @property
    def rank(self) -> int:
        return _RANK[self.value]

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Level):
            return NotImplemented
        return _RANK[self.value] < _RANK[other.value]

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Level):
            return NotImplemented
        return _RANK[self.value] >= _RANK[other.value]

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Level):
            return NotImplemented
        return _RANK[self.value] > _RANK[other.value]

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Level):
            return NotImplemented
        return _RANK[self.value] <= _RANK[other.value]

    def __hash__(self) -> int:
        return hash(self.value)

    def __str__(self) -> str:
        return self.value


_RANK = {"none": 0, "watch": 1, "high": 2, "imminent": 3}


class Category(StrEnum):
    """What kind of risk a signal is about."""

    SUICIDE = "suicide"
    SELF_HARM = "self_harm"
    HARM_TO_OTHERS = "harm_to_others"
    ABUSE = "abuse"
    SUBSTANCE = "substance"
    DISTRESS = "distress"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Evidence:
    """One rule that fired: its id and the span of the original text it matched.

    `start`/`end` index the text given to `screen()`; for a signal found in one of the
    `recent` messages, `source` is that message's index in `recent` (0 = oldest) and the
    offsets index that message. Combination rules (``combo.*``) carry the span of the
    signal that completed them.
    """

    rule_id: str
    text: str
    start: int
    end: int
    source: int | None = None

    def label(self) -> str:
        """A short human-readable form, e.g. ``suicide.passive_wish:'better off without me'``."""
        where = "" if self.source is None else f"@recent[{self.source}]"
        return f"{self.rule_id}:{self.text!r}{where}"


@dataclass(frozen=True, slots=True)
class Assessment:
    """The detector's answer for one message.

    - `level`: the highest level the kept evidence supports.
    - `categories`: the categories of the kept signals, the one that set the level first.
    - `hold`: the text carries method detail that safe-messaging practice keeps out of a
      group, whatever the level.
    - `evidence`: the rules (and combinations) that decided the level, with their spans.
    - `discounted`: signals that matched but were set aside by context (negation, past,
      someone else, a quotation, a joke, a game, a film...), each named after the context
      rule that set it aside. Kept for explanation only; they never raise the level.
    """

    level: Level
    categories: tuple[Category, ...]
    hold: bool
    evidence: tuple[Evidence, ...]
    discounted: tuple[Evidence, ...] = ()

    def evidence_labels(self) -> list[str]:
        return [item.label() for item in self.evidence]


NO_RISK = Assessment(level=Level.NONE, categories=(), hold=False, evidence=())
