"""Fan-out of stored messages to the sockets of a room.

One frame is encoded once per message and published to the room's group; each socket's
consumer forwards the text as is. The channel layer is at-most-once, so sockets keep
their own last seq and fill any gap from the database (see ``RoomConsumer``).
"""

from __future__ import annotations

from channels.layers import get_channel_layer

from chat.events import room_group

MESSAGE_EVENT = "room.message"
SKIP_EVENT = "room.skip"


async def publish_message(*, room_id: int, seq: int, text: str) -> None:
    layer = get_channel_layer()
    assert layer is not None
    await layer.group_send(room_group(room_id), {"type": MESSAGE_EVENT, "seq": seq, "text": text})


async def publish_skip(*, room_id: int, seq: int) -> None:
    """Tell sockets that ``seq`` exists but is not for them, so it is no gap to fill."""
    layer = get_channel_layer()
    assert layer is not None
    await layer.group_send(room_group(room_id), {"type": SKIP_EVENT, "seq": seq})
