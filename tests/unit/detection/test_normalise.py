"""Normalisation: each evasion maps to the plain spelling, and spans map back."""

from __future__ import annotations

import pytest

from moderation.detection.normalise import normalise

CASES = [
    ("K1ll mys3lf", "kill myself"),
    ("5uicide", "suicide"),
    ("d!e", "die"),
    ("s*icidal", "suicidal"),
    ("s e w e r s l i d e", "suicide"),
    ("c.u.t.t.i.n.g", "cutting"),
    ("sooooo tired", "so tired"),
    ("diiiiie", "die"),
    ("don't", "dont"),
    ("i’m", "im"),
    ("ｓｕｉｃｉｄｅ", "suicide"),
    ("ѕuісіdе", "suicide"),
    ("self-harm", "self harm"),
    ("kms", "kill myself"),
    ("unalive myself", "kill myself"),
    ("sewer slide", "suicide"),
    ("gonna", "going to"),
    ("2nite", "tonight"),
    ("🪦", " grave "),
    ("lmao", "lol"),
]


@pytest.mark.parametrize(("raw", "plain"), CASES)
def test_evasions_map_to_plain_spelling(raw: str, plain: str) -> None:
    assert normalise(raw).text == plain


@pytest.mark.parametrize(
    "raw", ["3am", "60 days", "ps5", "24/7", "@sam hi", "wow!!", "covid19", "10th"]
)
def test_numbers_and_handles_are_left_alone(raw: str) -> None:
    assert normalise(raw).text == raw.lower()


def test_words_containing_slang_are_left_alone() -> None:
    """'bout' is slang for 'about', but not inside 'about'."""
    assert normalise("about").text == "about"
    assert normalise("surprise").text == "surprise"


def test_spans_map_back_to_the_original() -> None:
    raw = "ok soooo I w4nt to k i l l myself 🙃 fr"
    result = normalise(raw)
    start = result.text.index("kill myself")
    o_start, o_end = result.to_original(start, start + len("kill myself"))
    assert raw[o_start:o_end] == "k i l l myself"
    assert "to kill myself" in result.text
    start = result.text.index("want")
    o_start, o_end = result.to_original(start, start + 4)
    assert raw[o_start:o_end] == "w4nt"
