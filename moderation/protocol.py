"""The staff socket's client frames, as one table: type -> fields and their kinds.

Parsing is strict like the room socket's; the same error codes apply.
"""

from __future__ import annotations

import json
from typing import Any

from chat.protocol import MAX_FRAME_CHARS, ErrorCode, ProtocolError

# Field kinds: "id" (whole number >= 1), "count" (whole number >= 0), "text", "slug",
# "username", "bool", "note".
STAFF_FRAMES: dict[str, dict[str, str]] = {
    "escalation.ack": {"escalation_id": "id"},
    "escalation.resolve": {"escalation_id": "id", "note": "note"},
    "flag.verdict": {"flag_id": "id", "verdict": "text"},
    "message.hide": {"room": "slug", "seq": "id"},
    "message.release": {"room": "slug", "seq": "id"},
    "member.mute": {"room": "slug", "username": "username", "minutes": "count"},
    "member.remove": {"room": "slug", "username": "username"},
    "room.lock": {"room": "slug", "locked": "bool"},
    "room.slow_mode": {"room": "slug", "seconds": "count"},
    "checkin.open": {"room": "slug", "username": "username"},
}

_MAX_TEXT = {"text": 40, "slug": 64, "username": 150, "note": 4000}


def _field(frame: dict[str, Any], name: str, kind: str) -> object:
    if name not in frame:
        raise ProtocolError(ErrorCode.MISSING_FIELD, f"'{name}' is required.")
    value = frame[name]
    if kind in ("id", "count"):
        low = 1 if kind == "id" else 0
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value < 2**63:
            raise ProtocolError(
                ErrorCode.INVALID_FIELD, f"'{name}' must be a whole number >= {low}."
            )
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise ProtocolError(ErrorCode.INVALID_FIELD, f"'{name}' must be true or false.")
        return value
    if not isinstance(value, str) or len(value) > _MAX_TEXT[kind]:
        raise ProtocolError(
            ErrorCode.INVALID_FIELD,
            f"'{name}' must be a string of at most {_MAX_TEXT[kind]} characters.",
        )
    return value


def parse_staff_frame(text: str | None) -> tuple[str, dict[str, Any]]:
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
    if "type" not in frame:
        raise ProtocolError(ErrorCode.MISSING_FIELD, "'type' is required.")
    kind = frame["type"]
    schema = STAFF_FRAMES.get(kind) if isinstance(kind, str) else None
    if schema is None:
        raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"Unknown frame type {str(kind)[:40]!r}.")
    return kind, {name: _field(frame, name, field_kind) for name, field_kind in schema.items()}
