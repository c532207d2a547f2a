"""Bodies are plain text: markup goes, words stay."""

from __future__ import annotations

import pytest

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
