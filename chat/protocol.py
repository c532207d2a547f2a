"""The room socket's client frames: schemas, parsing and error codes.

Parsing is strict and total: any text either becomes one of the frame dataclasses or
raises ``ProtocolError`` with a code from ``ErrorCode``. Nothing here touches the database.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qs

MAX_CLIENT_ID = 64
MAX_REPORT_REASON = 500
# Frames far larger than any valid one are refused before JSON parsing.
MAX_FRAME_CHARS = 1_000_000
# Past this a socket is closed rather than answered: no client of ours sends such a frame.
# The web process (config.serve) makes daphne's autobahn enforce it on the frame's header and
# close with the standard 1009. The consumers keep 4009 as a fallback for a frame that gets
# past (a plain daphne, whose limit is 1 MiB): autobahn will not send 1009 on an
# application's behalf.
CLOSE_FRAME_CHARS = 512 * 1024
CLOSE_TOO_BIG = 4009


def frame_too_big(text: str | None, data: bytes | None) -> bool:
    return len(text or "") > CLOSE_FRAME_CHARS or len(data or b"") > CLOSE_FRAME_CHARS


class ErrorCode(StrEnum):
    BAD_JSON = "bad_json"
    BAD_FRAME = "bad_frame"
    UNKNOWN_TYPE = "unknown_type"
    MISSING_FIELD = "missing_field"
    INVALID_FIELD = "invalid_field"
    TOO_LONG = "too_long"
    EMPTY_BODY = "empty_body"
    RATE_LIMITED = "rate_limited"
    SLOW_MODE = "slow_mode"
    MUTED = "muted"
    ROOM_LOCKED = "room_locked"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    SERVER_ERROR = "server_error"


class ProtocolError(Exception):
    def __init__(self, code: ErrorCode, detail: str, client_id: str | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.client_id = client_id


@dataclass(frozen=True)
class SendMessage:
    client_id: str
    body: str


@dataclass(frozen=True)
class Resume:
    after_seq: int


@dataclass(frozen=True)
class ReportMessage:
    seq: int
    reason: str


ClientFrame = SendMessage | Resume | ReportMessage


def _string(frame: dict[str, Any], name: str, client_id: str | None = None) -> str:
    if name not in frame:
        raise ProtocolError(ErrorCode.MISSING_FIELD, f"'{name}' is required.", client_id)
    value = frame[name]
    if not isinstance(value, str):
        raise ProtocolError(ErrorCode.INVALID_FIELD, f"'{name}' must be a string.", client_id)
    return value


def _whole_number(frame: dict[str, Any], name: str, minimum: int) -> int:
    if name not in frame:
        raise ProtocolError(ErrorCode.MISSING_FIELD, f"'{name}' is required.")
    value = frame[name]
    # bool is an int in Python; a frame saying true is not a number.
    if not isinstance(value, int) or isinstance(value, bool) or not (minimum <= value < 2**63):
        raise ProtocolError(
            ErrorCode.INVALID_FIELD, f"'{name}' must be a whole number >= {minimum}."
        )
    return value


def _client_id(frame: dict[str, Any]) -> str:
    client_id = _string(frame, "client_id")
    if not 1 <= len(client_id) <= MAX_CLIENT_ID or not client_id.isprintable():
        raise ProtocolError(
            ErrorCode.INVALID_FIELD,
            f"'client_id' must be 1 to {MAX_CLIENT_ID} printable characters.",
        )
    return client_id


def parse_client_frame(text: str | None, *, max_body: int) -> ClientFrame:
    """Turn one text frame into a client frame, or raise ``ProtocolError``."""
    if text is None:
        raise ProtocolError(ErrorCode.BAD_FRAME, "Send JSON text frames, not binary ones.")
    if len(text) > MAX_FRAME_CHARS:
        raise ProtocolError(ErrorCode.TOO_LONG, "That frame is far too long.")
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError(ErrorCode.BAD_JSON, "That was not valid JSON.") from None
    if not isinstance(frame, dict):
        raise ProtocolError(ErrorCode.BAD_FRAME, "A frame is a JSON object with a 'type'.")
    kind = frame.get("type")
    parser = ROOM_FRAMES.get(kind) if isinstance(kind, str) else None
    if parser is not None:
        return parser(frame, max_body)
    if "type" not in frame:
        raise ProtocolError(ErrorCode.MISSING_FIELD, "'type' is required.")
    raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"Unknown frame type {str(kind)[:40]!r}.")


def _send(frame: dict[str, Any], max_body: int) -> SendMessage:
    client_id = _client_id(frame)
    body = _string(frame, "body", client_id)
    if len(body) > max_body:
        raise ProtocolError(
            ErrorCode.TOO_LONG,
            f"Messages can be up to {max_body} characters; this one has {len(body)}.",
            client_id,
        )
    return SendMessage(client_id=client_id, body=body)


def _resume(frame: dict[str, Any], max_body: int) -> Resume:
    return Resume(after_seq=_whole_number(frame, "after_seq", 0))


def _report(frame: dict[str, Any], max_body: int) -> ReportMessage:
    seq = _whole_number(frame, "seq", 1)
    reason = frame.get("reason", "")
    if not isinstance(reason, str) or len(reason) > MAX_REPORT_REASON:
        raise ProtocolError(
            ErrorCode.INVALID_FIELD,
            f"'reason' must be a string of at most {MAX_REPORT_REASON} characters.",
        )
    return ReportMessage(seq=seq, reason=reason)


# Every frame type a room socket accepts, and its parser: the one list of them (the access
# matrix in the tests is checked against it).
ROOM_FRAMES: dict[str, Callable[[dict[str, Any], int], ClientFrame]] = {
    "message.send": _send,
    "resume": _resume,
    "message.report": _report,
}


def parse_after_seq(query_string: bytes) -> int | None:
    """The ``after_seq`` of a reconnecting socket's URL, if any (invalid: ``ProtocolError``)."""
    values = parse_qs(query_string.decode("latin-1")).get("after_seq")
    if not values:
        return None
    raw = values[-1]
    if not raw.isdigit() or len(raw) > 18:
        raise ProtocolError(ErrorCode.INVALID_FIELD, "'after_seq' must be a whole number >= 0.")
    return int(raw)
