"""Golden snapshot of the rule stage: prove a speed change leaves every answer as it was.

    python bench/detector_golden.py write golden.txt [--code DIR]
    python bench/detector_golden.py check golden.txt [--code DIR]

Screens every labelled message we have (the development set, every
tests/unit/detection/*.jsonl, the unit-test cases), generated evasions of each (case,
leetspeak, spaced and dotted letters, stretched letters, masking, emoji, look-alike,
full-width and accented letters, zero-width characters, apostrophes, quotes, jokes,
negation and third-person prefixes, concatenations, texts up to 4,000 characters) and
each message with `recent` contexts (the messages before it in its file, a crisis
message, its own variants), and writes, per call, the normalised text and the full
`Assessment` (level, categories, hold, evidence and discounted, spans and rule ids) by
`repr`. `check` recomputes them and prints every difference.

The inputs are generated from this tree's data with a fixed seed and never depend on the
detector, so a snapshot written with one version's code (`--code`: a tree to import
`moderation.detection` from, e.g. a `git worktree` or `git archive` of the base commit)
can be checked with another's. Needs no Django.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Iterator, Sequence
from itertools import zip_longest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DETECTION_TESTS = ROOT / "tests" / "unit" / "detection"
DEV_SETS = (
    ROOT.parent / "shared" / "moderation" / "crisis-dev.jsonl",
    ROOT / "tests" / "data" / "shared-moderation" / "crisis-dev.jsonl",
)

# Fixed here rather than read from data/normalise.toml, so the inputs stay the same
# whatever the tables say.
LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7", "l": "1"}
LEET_SYMBOLS = {"a": "@", "i": "!", "s": "$", "o": "*"}
CYRILLIC = {"a": "а", "e": "е", "o": "о", "c": "с", "p": "р", "i": "і", "x": "х", "y": "у"}
GREEK = {"a": "α", "o": "ο", "i": "ι", "k": "κ", "t": "τ", "v": "ν"}
EMOJI = ["🪦", "💊", "😂", "💀", "🔪", "😭", "🙂", "❤️", "🌉", "🩸"]
ZERO_WIDTH = ["\u200b", "\u200d", "\u00ad", "\ufeff"]
ACCENTS = ["\u0301", "\u0308", "\u0300", "\u0336"]
PREFIXES = [
    "i would never say ",
    "my friend said ",
    "years ago ",
    "if someone says ",
    "lol ",
    "not gonna lie ",
    "i dont think ",
    "in the game ",
]
SUFFIXES = [" lol", " jk", " 😂", " not joking", " tonight", " again", " i'm serious", "!!!"]


def labelled_texts() -> list[list[str]]:
    """Every labelled message, grouped by the file (or list) it comes from, in order."""
    groups: list[list[str]] = []
    dev = next((path for path in DEV_SETS if path.exists()), None)
    paths = ([dev] if dev else []) + sorted(DETECTION_TESTS.glob("*.jsonl"))
    for path in paths:
        with path.open(encoding="utf-8") as handle:
            groups.append([json.loads(line)["text"] for line in handle if line.strip()])
    sys.path.insert(0, str(ROOT))
    from tests.unit.detection.cases import EVASION_CASES, NEGATIVE_CASES, RULE_CASES

    sys.path.remove(str(ROOT))
    groups.append([text for text, _, _ in RULE_CASES])
    groups.append([text for text, _ in EVASION_CASES])
    groups.append(list(NEGATIVE_CASES))
    return groups


def _words(rng: random.Random, text: str, share: float) -> list[int]:
    words = text.split(" ")
    return [i for i, word in enumerate(words) if len(word) > 2 and rng.random() < share]


def _per_word(rng: random.Random, text: str, share: float, change) -> str:  # type: ignore[no-untyped-def]
    words = text.split(" ")
    for i in _words(rng, text, share):
        words[i] = change(words[i])
    return " ".join(words)


def _swap(table: dict[str, str], rng: random.Random, share: float):  # type: ignore[no-untyped-def]
    return lambda word: "".join(
        table[c] if c in table and rng.random() < share else c for c in word
    )


def variants(rng: random.Random, text: str, others: Sequence[str]) -> Iterator[str]:
    """Evasions and other spellings of `text` (some meaningless: they only need to be
    the same inputs for both versions)."""
    yield text
    yield text.upper()
    yield text.title()
    yield text.lower()
    yield _per_word(rng, text.lower(), 0.5, _swap(LEET, rng, 0.6))
    yield _per_word(rng, text.lower(), 0.4, _swap(LEET_SYMBOLS, rng, 0.7))
    yield _per_word(rng, text.lower(), 0.3, lambda w: " ".join(w))
    yield _per_word(rng, text.lower(), 0.3, lambda w: ".".join(w))
    yield _per_word(rng, text.lower(), 0.2, lambda w: "-".join(w))
    yield _per_word(
        rng,
        text,
        0.4,
        lambda w: "".join(c * rng.choice((1, 1, 3, 5)) if c in "aeiouy" else c for c in w),
    )
    yield _per_word(
        rng,
        text.lower(),
        0.4,
        lambda w: w[0] + "".join("*" if c in "aeiou" and rng.random() < 0.5 else c for c in w[1:]),
    )
    words = text.split(" ")
    for _ in range(min(3, len(words))):
        words.insert(rng.randrange(len(words) + 1), rng.choice(EMOJI))
    yield " ".join(words)
    yield text + rng.choice(EMOJI) * rng.choice((1, 3))
    yield _per_word(rng, text.lower(), 0.6, _swap(CYRILLIC, rng, 0.6))
    yield _per_word(rng, text.lower(), 0.6, _swap(GREEK, rng, 0.6))
    yield "".join(
        chr(ord(c) + 0xFEE0) if "!" <= c <= "~" and rng.random() < 0.7 else c for c in text
    )
    yield "".join(
        c + rng.choice(ACCENTS) if c.isalpha() and rng.random() < 0.3 else c for c in text
    )
    yield "".join(
        c + rng.choice(ZERO_WIDTH) if c.isalpha() and rng.random() < 0.1 else c for c in text
    )
    yield text.replace("'", "")
    yield text.replace("'", "\u2019")
    yield (
        text.replace("i'm", "im").replace("I'm", "Im").replace("don't", "dont").replace("n't", "nt")
    )
    yield f'she said "{text}"'
    yield f"'{text}'"
    yield rng.choice(PREFIXES) + text
    yield text + rng.choice(SUFFIXES)
    yield text.replace(" ", "") if len(text) < 60 else text.replace(" ", "  ")
    yield text.replace(" ", "_").replace(".", " . ")
    other = rng.choice(others)
    yield f"{text} {other}"
    yield f"{other}. {text}"
    yield f"{text}\n{other}"
    long = text
    while len(long) < rng.choice((500, 1500, 4000)):
        long += " " + rng.choice(others)
    yield long[:4000]


def calls() -> Iterator[tuple[str, tuple[str, ...]]]:
    """(text, recent) for every call of the snapshot, in a fixed order."""
    rng = random.Random(20240611)
    groups = labelled_texts()
    every = [text for group in groups for text in group]
    crisis = [
        "i want to die",
        "i want to end it all",
        "i'm going to kill myself",
        "i wish i was dead",
    ]
    for group in groups:
        for index, text in enumerate(group):
            own = list(variants(rng, text, every))
            for variant in own:
                yield variant, ()
            start = max(0, index - rng.randint(1, 6))
            yield text, tuple(group[start:index])
            yield text, (rng.choice(crisis),)
            yield text, (*rng.sample(every, 2), rng.choice(crisis))
            yield rng.choice(own), (text,)
            yield rng.choice(every), (rng.choice(own), text)


def results(code: Path | None) -> Iterator[str]:
    if code is not None:
        sys.path.insert(0, str(code.resolve()))
    else:
        sys.path.insert(0, str(ROOT))
    from moderation.detection import screen
    from moderation.detection.normalise import normalise

    for text, recent in calls():
        norm = normalise(text).text
        yield repr((text, recent, norm, screen(text, recent)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("write", "check"))
    parser.add_argument("snapshot", type=Path)
    parser.add_argument("--code", type=Path, help="tree to import moderation.detection from")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.mode == "write":
        count = 0
        with args.snapshot.open("w", encoding="utf-8") as out:
            for line in results(args.code):
                out.write(json.dumps(line) + "\n")
                count += 1
        print(f"wrote {count} results to {args.snapshot} in {time.perf_counter() - started:.0f} s")
        return 0
    with args.snapshot.open(encoding="utf-8") as handle:
        expected = [json.loads(line) for line in handle]
    differences = 0
    count = 0
    for count, (want, got) in enumerate(zip_longest(expected, results(args.code)), 1):
        if want != got:
            differences += 1
            if differences <= 20:
                print(f"#{count}\n  was: {want}\n  now: {got}")
    print(
        f"{count} results checked against {args.snapshot}: {differences} differences "
        f"({time.perf_counter() - started:.0f} s)"
    )
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
