"""The staff socket: flags and escalations live, and the staff's actions on them. Thin."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils import timezone

from chat import events as chat_events
from chat import fanout
from chat.consumers import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED
from chat.events import Outbox
from chat.presence import room_presence
from chat.protocol import CLOSE_TOO_BIG, ProtocolError, frame_too_big
from moderation import events, services, tools
from moderation.ladder import ensure_in_process_ladder
from moderation.models import StaffConnection
from moderation.protocol import parse_staff_frame
from moderation.selectors import rooms_led_by, staff_snapshot
from rooms.access import Refusal, staff_connection_still_allowed
from rooms.models import User

logger = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 30
# How often a staff socket checks that its session still exists (signing out closes it).
SESSION_CHECK_SECONDS = 2.0
# How often a leader's socket is sent the whole picture of who is in their rooms.
ROOM_PRESENCE_SECONDS = 10.0

# Every staff frame type and the action that answers it (keyword arguments from the frame).
ACTIONS: dict[str, Callable[..., Outbox]] = {
    "escalation.ack": services.escalation_acknowledge,
    "escalation.resolve": services.escalation_resolve,
    "flag.verdict": services.flag_verdict,
    "message.hide": tools.message_hide,
    "message.release": tools.message_release,
    "member.mute": tools.member_mute,
    "member.remove": tools.member_remove,
    "room.lock": tools.room_lock,
    "room.slow_mode": tools.room_slow_mode,
    "checkin.open": tools.checkin_open,
}
# Frame fields named for people, renamed to the actions' keyword arguments.
_ARGUMENT_NAMES = {"room": "slug"}


class StaffConsumer(AsyncWebsocketConsumer):
    user: User
    room_ids: list[int]
    joined: list[str]
    heartbeat: asyncio.Task[None] | None = None

    async def dispatch(self, message: dict[str, Any]) -> None:
        if message.get("type") == "staff.frame":
            await self.staff_frame(message)
            return
        await super().dispatch(message)

    async def connect(self) -> None:
        self.joined = []
        self.room_ids = []
        user = self.scope.get("user")
        await self.accept()
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not user.is_trained_staff:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.user = user
        self.room_ids = room_ids = await database_sync_to_async(rooms_led_by)(user)
        self.joined = [events.staff_room_group(pk) for pk in room_ids]
        if user.is_oncall:
            self.joined.append(events.ONCALL_GROUP)
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        # Present before the snapshot: an escalation raised from here on finds us online.
        await database_sync_to_async(self._present)()
        for frame in await database_sync_to_async(staff_snapshot)(user, room_ids):
            await self._send(frame)
        self.heartbeat = asyncio.get_running_loop().create_task(self._beat())
        ensure_in_process_ladder()

    async def disconnect(self, code: int) -> None:
        if self.heartbeat is not None:
            self.heartbeat.cancel()
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        await database_sync_to_async(
            StaffConnection.objects.filter(channel_name=self.channel_name).delete
        )()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        kind = None
        if frame_too_big(text_data, bytes_data):
            await self.close(code=CLOSE_TOO_BIG)
            return
        try:
            kind, fields = parse_staff_frame(text_data)
            arguments = {_ARGUMENT_NAMES.get(k, k): v for k, v in fields.items()}
            outbox = await database_sync_to_async(ACTIONS[kind])(actor=self.user, **arguments)
            await self._send({"type": "action.done", "action": kind, **fields})
            await fanout.send_outbox(outbox, self._send)
        except ProtocolError as exc:
            await self._send(chat_events.error(exc.code, exc.detail))
        except Refusal as exc:
            await self._send({**chat_events.error(exc.code, exc.detail), "action": kind})
        except Exception:
            logger.exception("staff socket: %s failed", kind)
            await self._send(
                chat_events.error("server_error", "Something went wrong; please try again.")
            )

    async def staff_frame(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["text"])

    def _present(self) -> None:
        StaffConnection.objects.update_or_create(
            channel_name=self.channel_name,
            defaults={
                "user": self.user,
                "oncall": self.user.is_oncall,
                "last_seen": timezone.now(),
            },
        )

    async def _beat(self) -> None:
        key = getattr(self.scope.get("session"), "session_key", None)
        since_presence = since_rooms = 0.0
        while True:
            await asyncio.sleep(SESSION_CHECK_SECONDS)
            since_presence += SESSION_CHECK_SECONDS
            if not await database_sync_to_async(staff_connection_still_allowed)(self.user.pk, key):
                await self.close(code=CLOSE_UNAUTHENTICATED)
                return
            if since_presence >= HEARTBEAT_SECONDS:
                since_presence = 0.0
                await database_sync_to_async(self._present)()
            since_rooms += SESSION_CHECK_SECONDS
            if self.room_ids and since_rooms >= ROOM_PRESENCE_SECONDS:
                # Who is in the rooms, whole, again: this mends notices that crossed
                # between processes, and drops the people of a process that died.
                since_rooms = 0.0
                for frame in await database_sync_to_async(room_presence)(self.room_ids):
                    await self._send(frame)

    async def _send(self, frame: chat_events.Frame) -> None:
        await self.send(text_data=chat_events.encode(frame))
