"""Fan-out of stored messages and moderation notices.

One frame is encoded once per message and published to the room's group; each socket's
consumer forwards the text as is. The channel layer is at-most-once, so sockets keep
their own last seq and fill any gap from the database (see ``RoomConsumer``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from channels.layers import get_channel_layer

from chat.events import Frame, Outbox, room_group

MESSAGE_EVENT = "room.message"
SKIP_EVENT = "room.skip"


def _layer() -> object:
    layer = get_channel_layer()
    assert layer is not None, "CHANNEL_LAYERS is not configured"
    return layer


async def publish_message(*, room_id: int, seq: int, text: str) -> None:
    await _layer().group_send(  # type: ignore[attr-defined]
        room_group(room_id), {"type": MESSAGE_EVENT, "seq": seq, "text": text}
    )


async def publish_skip(*, room_id: int, seq: int) -> None:
    """Tell sockets that ``seq`` exists but is not for them, so it is no gap to fill."""
    await _layer().group_send(room_group(room_id), {"type": SKIP_EVENT, "seq": seq})  # type: ignore[attr-defined]


async def send_outbox(outbox: Outbox, to_sender: Callable[[Frame], Awaitable[None]]) -> None:
    """Send an outbox after commit: the sender's frames first, then the groups'."""
    for frame in outbox.sender:
        await to_sender(frame)
    layer = _layer()
    for group, event in outbox.groups:
        await layer.group_send(group, event)  # type: ignore[attr-defined]
