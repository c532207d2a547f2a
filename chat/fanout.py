"""Publishing after commit: room events through the room hub, staff events through the
channel layer (low volume), frames for the sender straight to its socket."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from channels.layers import get_channel_layer

from chat import hub
from chat.events import Frame, GroupEvent, Outbox

ROOM_GROUP_PREFIX = "room."
logger = logging.getLogger(__name__)


async def publish_message(*, room_id: int, seq: int, text: str, wait: bool = True) -> None:
    """``wait=False`` (the room socket, after the ack): do not wait for Redis; a publish
    that is lost is mended by the hub's sync loop, as the message is stored."""
    await hub.get_hub().publish(room_id, hub.encode_message(seq, text), wait=wait)


async def publish_skip(*, room_id: int, seq: int, wait: bool = True) -> None:
    """Tell sockets that ``seq`` exists but is not for them, so it is no gap to fill."""
    await hub.get_hub().publish(room_id, hub.encode_skip(seq), wait=wait)


async def _publish_room_event(room_id: int, event: GroupEvent) -> None:
    if event["type"] == "room.message":
        await publish_message(room_id=room_id, seq=event["seq"], text=event["text"])
    elif event["type"] == "room.control":
        wire = hub.encode_control(event["text"], user_id=event["user_id"], close=event["close"])
        await hub.get_hub().publish(room_id, wire)
    else:
        raise ValueError(f"unknown room event {event['type']!r}")


async def send_outbox(outbox: Outbox, to_sender: Callable[[Frame], Awaitable[None]]) -> None:
    """Send an outbox after commit: the sender's frames first, then the groups'."""
    for frame in outbox.sender:
        await to_sender(frame)
    layer = get_channel_layer()
    for group, event in outbox.groups:
        if group.startswith(ROOM_GROUP_PREFIX):
            await _publish_room_event(int(group[len(ROOM_GROUP_PREFIX) :]), event)
        elif layer is not None:
            try:
                await layer.group_send(group, event)
            except Exception:
                # Staff notices are stored (flags, escalations): a staff socket gets them on
                # reconnect, and the ladder re-sends escalations; never fail the sender here.
                logger.warning("staff notice to %s could not be sent", group, exc_info=True)
