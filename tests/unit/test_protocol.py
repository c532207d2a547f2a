"""Frame parsing: every text is either a frame or a ProtocolError with a code."""

from __future__ import annotations

import json

import pytest

from chat.protocol import (
    ErrorCode,
    ProtocolError,
    ReportMessage,
    Resume,
    SendMessage,
    parse_after_seq,
    parse_client_frame,
)


def parse(frame: object, max_body: int = 100) -> object:
    return parse_client_frame(
        frame if isinstance(frame, str) else json.dumps(frame), max_body=max_body
    )


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ({"type": "message.send", "client_id": "a", "body": "hi"}, SendMessage("a", "hi")),
        ({"type": "message.send", "client_id": "x" * 64, "body": ""}, SendMessage("x" * 64, "")),
        ({"type": "resume", "after_seq": 0}, Resume(0)),
        ({"type": "resume", "after_seq": 41}, Resume(41)),
        ({"type": "message.report", "seq": 3, "reason": "worried"}, ReportMessage(3, "worried")),
        ({"type": "message.report", "seq": 3}, ReportMessage(3, "")),
    ],
)
def test_valid_frames(frame: dict[str, object], expected: object) -> None:
    assert parse(frame) == expected


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (None, ErrorCode.BAD_FRAME),
        ("", ErrorCode.BAD_JSON),
        ("{", ErrorCode.BAD_JSON),
        ("[" * 100_000, ErrorCode.BAD_JSON),
        ("[]", ErrorCode.BAD_FRAME),
        ("null", ErrorCode.BAD_FRAME),
        ({}, ErrorCode.MISSING_FIELD),
        ({"type": 7}, ErrorCode.UNKNOWN_TYPE),
        ({"type": "message.delete"}, ErrorCode.UNKNOWN_TYPE),
        ({"type": "message.send", "body": "x"}, ErrorCode.MISSING_FIELD),
        ({"type": "message.send", "client_id": "a"}, ErrorCode.MISSING_FIELD),
        ({"type": "message.send", "client_id": "x" * 65, "body": "x"}, ErrorCode.INVALID_FIELD),
        ({"type": "message.send", "client_id": "a\nb", "body": "x"}, ErrorCode.INVALID_FIELD),
        ({"type": "message.send", "client_id": ["a"], "body": "x"}, ErrorCode.INVALID_FIELD),
        ({"type": "message.send", "client_id": "a", "body": {"html": 1}}, ErrorCode.INVALID_FIELD),
        ({"type": "message.send", "client_id": "a", "body": "y" * 101}, ErrorCode.TOO_LONG),
        ({"type": "resume"}, ErrorCode.MISSING_FIELD),
        ({"type": "resume", "after_seq": "3"}, ErrorCode.INVALID_FIELD),
        ({"type": "resume", "after_seq": 1.5}, ErrorCode.INVALID_FIELD),
        ({"type": "resume", "after_seq": False}, ErrorCode.INVALID_FIELD),
        ({"type": "resume", "after_seq": 2**64}, ErrorCode.INVALID_FIELD),
        ({"type": "message.report", "seq": 0}, ErrorCode.INVALID_FIELD),
        ({"type": "message.report", "seq": 1, "reason": "r" * 501}, ErrorCode.INVALID_FIELD),
        ("x" * 1_000_001, ErrorCode.TOO_LONG),
    ],
)
def test_invalid_frames(frame: object, code: ErrorCode) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_client_frame(
            frame if isinstance(frame, str) or frame is None else json.dumps(frame), max_body=100
        )
    assert caught.value.code == code
    assert caught.value.detail


def test_too_long_body_keeps_client_id() -> None:
    with pytest.raises(ProtocolError) as caught:
        parse({"type": "message.send", "client_id": "keep-me", "body": "y" * 101})
    assert caught.value.client_id == "keep-me"


@pytest.mark.parametrize(
    ("query", "expected"),
    [(b"", None), (b"after_seq=0", 0), (b"after_seq=17", 17), (b"x=1&after_seq=5", 5)],
)
def test_after_seq_in_url(query: bytes, expected: int | None) -> None:
    assert parse_after_seq(query) == expected


@pytest.mark.parametrize("query", [b"after_seq=-1", b"after_seq=abc", b"after_seq=" + b"9" * 30])
def test_bad_after_seq_in_url(query: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_after_seq(query)
