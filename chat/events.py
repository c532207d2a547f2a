"""Frames the server sends, and the names of the groups they go to.

Frames are built from stored rows only, so nothing reaches a client that is not in the
database. ``encode`` is called once per message, never once per receiver.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from chat.models import Message
from rooms.models import User

Frame = dict[str, Any]
GroupEvent = dict[str, Any]


@dataclass
class Outbox:
    """What to send once the transaction has committed, never before.

    ``sender`` frames go to the socket that made the change; ``groups`` are channel-layer
    events for group names (room sockets, staff sockets).
    """

    sender: list[Frame] = field(default_factory=list)
    groups: list[tuple[str, GroupEvent]] = field(default_factory=list)

    def extend(self, other: Outbox) -> None:
        self.sender.extend(other.sender)
        self.groups.extend(other.groups)


def staff_event(frame: Frame) -> GroupEvent:
    """A frame for every staff socket in a group, encoded once."""
    return {"type": "staff.frame", "text": encode(frame)}


def room_control(frame: Frame, *, user_id: int | None = None, close: bool = False) -> GroupEvent:
    """A frame for the room's sockets (or only ``user_id``'s), optionally closing them."""
    return {"type": "room.control", "text": encode(frame), "user_id": user_id, "close": close}


def encode(frame: Frame) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


def room_group(room_id: int) -> str:
    return f"room.{room_id}"


def person_frame(user: User, role: str) -> Frame:
    """How a person appears to others: never more than username, pseudonym and role."""
    return {"username": user.username, "display_name": user.public_name, "role": role}


def author_frame(message: Message, role: str) -> Frame:
    return person_frame(message.author, role)


def message_new_in_room(message: Message, roles: Mapping[int, str]) -> Frame:
    """message.new with its author's role from the room's roles (selectors.room_roles);
    someone no longer a member is shown as a participant."""
    return message_new(message, role=roles.get(message.author_id, "participant"))


def message_new(message: Message, *, role: str) -> Frame:
    frame: Frame = {
        "type": "message.new",
        "seq": message.seq,
        "client_id": message.client_id,
        "author": author_frame(message, role),
        "body": message.body,
        "sent_at": message.sent_at.isoformat(),
    }
    if message.status != "delivered":
        # Only the author ever receives a held message (in a replay), marked as such.
        frame["status"] = message.status
    return frame


def message_ack(message: Message) -> Frame:
    status = "held" if message.status == "held" else "delivered"
    return {
        "type": "message.ack",
        "client_id": message.client_id,
        "seq": message.seq,
        "status": status,
    }


def resume_done(last_seq: int) -> Frame:
    return {"type": "resume.done", "last_seq": last_seq}


def error(code: str, detail: str, client_id: str | None = None) -> Frame:
    frame: Frame = {"type": "error", "code": code, "detail": detail}
    if client_id is not None:
        frame["client_id"] = client_id
    return frame
