"""Bodies are plain text: markup goes, words stay."""

from __future__ import annotations

import json
import random
import unicodedata
from pathlib import Path

import pytest

from chat import sanitize
from chat.sanitize import clean_body


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("just words", "just words"),
        ("  padded  ", "padded"),
        ("<b>bold</b> move", "bold move"),
        ("<script>alert(1)</script>after", "alert(1)after"),
        ('<img src=x onerror="alert(1)">', ""),
        ("&lt;script&gt;alert(1)&lt;/script&gt;", "alert(1)"),
        ("&amp;lt;b&amp;gt;", ""),  # double-escaped markup is still markup
        ("a < b and c > d", "a < b and c > d"),
        ("I <3 this group", "I <3 this group"),
        ("fish & chips", "fish & chips"),
        ("line one\r\nline two", "line one\nline two"),
        ("too\n\n\n\n\nmany", "too\n\nmany"),
        ("right\u202eto left", "rightto left"),
        ("bell\x07 and null\x00", "bell and null"),
        ("family 👨\u200d👩\u200d👧", "family 👨\u200d👩\u200d👧"),
        ("e\u0301", "é"),
    ],
)
def test_clean_body(raw: str, clean: str) -> None:
    assert clean_body(raw) == clean


@pytest.mark.parametrize(
    "raw", ["<script>x</script>", "&lt;script&gt;", "<<script>script>", "<svg/onload=1>"]
)
def test_no_tag_survives(raw: str) -> None:
    assert "<script" not in clean_body(raw).lower()
    assert "<svg" not in clean_body(raw).lower()


def _through_bleach(raw: str) -> str:
    """clean_body as it was before its shortcut: every text through bleach."""
    text = unicodedata.normalize("NFC", raw.replace("\r\n", "\n").replace("\r", "\n"))
    text = sanitize._CONTROLS.sub("", sanitize._BIDI_CONTROLS.sub("", text))
    return sanitize._BLANK_LINES.sub("\n\n", sanitize._strip_markup(text)).strip()


def _labelled_texts() -> list[str]:
    root = Path(__file__).resolve().parents[1]
    files = [*root.glob("unit/detection/*.jsonl"), *root.glob("data/shared-moderation/*.jsonl")]
    return [json.loads(line)["text"] for path in files for line in path.read_text().splitlines()]


def _random_texts(count: int) -> list[str]:
    rng = random.Random(7)
    markup = ["<b>", "</i>", "<", "&amp;", "&lt;", "&gt;", "&#60;", "&", ">", "&nbsp;"]
    awkward = [0x00, 0x0C, 0x85, 0xD800, 0xDFFF, 0xFDD0, 0xFEFF, 0xFFFD, 0xFFFE, 0x2028, 0x10FFFF]
    texts = []
    for _ in range(count):
        chars = []
        for _ in range(rng.randint(1, 40)):
            pick = rng.random()
            if pick < 0.5:
                chars.append(chr(rng.randint(0x20, 0x7E)))
            elif pick < 0.8:
                chars.append(chr(rng.randint(0, 0x3000)))
            elif pick < 0.9:
                chars.append(chr(rng.choice(awkward)))
            elif pick < 0.97:
                chars.append(chr(rng.randint(0, 0x10FFFF)))
            else:
                chars.append(rng.choice(markup))
        texts.append("".join(chars))
    return texts


def test_the_shortcut_past_bleach_changes_nothing() -> None:
    """Text with no < and no & skips bleach; it must come out as bleach would leave it."""
    texts = _labelled_texts() + _random_texts(3000)
    assert len(texts) > 5000
    plain = [t for t in texts if "<" not in t and "&" not in t]
    assert len(plain) > 3000
    assert [clean_body(t) for t in texts] == [_through_bleach(t) for t in texts]
