"""The room socket. Thin: parse a frame, call one service, send what it returns."""

from __future__ import annotations

import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from chat import events, fanout, protocol, selectors, services
from moderation.ladder import ensure_in_process_ladder
from moderation.services import message_report
from rooms.access import AccessDenied, Refusal, RoomAccess, access_room

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
# Group events whose handlers do no ORM work: they skip the per-event
# close_old_connections thread hop that Channels 4.2+ adds in dispatch().
_NO_DB_EVENTS = frozenset({"room.message", "room.skip", "room.control"})


class RoomConsumer(AsyncWebsocketConsumer):
    access: RoomAccess
    group: str | None = None
    # The highest seq this socket has been sent (or told to skip): message.new frames go
    # out in strictly increasing seq order and never twice.
    last_seq: int = 0

    async def dispatch(self, message: dict[str, Any]) -> None:
        if message.get("type") in _NO_DB_EVENTS:
            handler = getattr(self, message["type"].replace(".", "_"))
            await handler(message)
            return
        await super().dispatch(message)

    async def connect(self) -> None:
        slug = self.scope["url_route"]["kwargs"]["slug"]
        try:
            after_seq = protocol.parse_after_seq(self.scope.get("query_string", b""))
            self.access = await database_sync_to_async(access_room)(
                user=self.scope.get("user"), slug=slug
            )
        except AccessDenied as denied:
            # Accept first so that the close code reaches the client (a refused handshake
            # is only an HTTP 403).
            await self.accept()
            code = CLOSE_UNAUTHENTICATED if denied.code == "unauthenticated" else CLOSE_FORBIDDEN
            await self.close(code=code)
            return
        except protocol.ProtocolError:
            await self.accept()
            await self.close(code=CLOSE_FORBIDDEN)
            return
        await self.accept()
        ensure_in_process_ladder()
        # Join before reading the room's position, so no message falls between the two.
        self.group = events.room_group(self.access.room.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        if after_seq is None:
            self.last_seq = await database_sync_to_async(selectors.room_last_seq)(
                room=self.access.room
            )
        else:
            await self._replay(after_seq)

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        client_id = None
        try:
            frame = protocol.parse_client_frame(text_data, max_body=settings.CHAT_MAX_BODY)
            match frame:
                case protocol.SendMessage():
                    client_id = frame.client_id
                    await self._post(frame)
                case protocol.Resume():
                    await self._replay(frame.after_seq)
                case protocol.ReportMessage():
                    outbox = await database_sync_to_async(message_report)(
                        access=self.access, seq=frame.seq, reason=frame.reason
                    )
                    await fanout.send_outbox(outbox, self._send)
        except protocol.ProtocolError as exc:
            await self._send(events.error(exc.code, exc.detail, exc.client_id))
        except Refusal as exc:
            await self._send(events.error(exc.code, exc.detail, client_id))
        except Exception:
            logger.exception("room socket: frame failed")
            await self._send(
                events.error("server_error", "Something went wrong; please try again.", client_id)
            )

    async def _post(self, frame: protocol.SendMessage) -> None:
        result = await database_sync_to_async(services.message_post)(
            access=self.access, client_id=frame.client_id, body=frame.body
        )
        # Stored and committed: acknowledge first, then fan out.
        await self._send(result.ack)
        await fanout.send_outbox(result.outbox, self._send)
        if result.broadcast is not None:
            await fanout.publish_message(
                room_id=self.access.room.pk,
                seq=result.message.seq,
                text=events.encode(result.broadcast),
            )
        elif result.created:
            await fanout.publish_skip(room_id=self.access.room.pk, seq=result.message.seq)

    async def _replay(self, after_seq: int) -> None:
        """Send every visible message after ``after_seq`` in order, then resume.done."""
        up_to, batches = await database_sync_to_async(self._replay_batches)(after_seq)
        for frame in batches:
            await self.send(text_data=events.encode(frame))
        self.last_seq = max(self.last_seq, up_to)
        await self._send(events.resume_done(up_to))

    def _replay_batches(self, after_seq: int) -> tuple[int, list[events.Frame]]:
        up_to = selectors.room_last_seq(room=self.access.room)
        return up_to, self._frames_between(after_seq, up_to)

    def _frames_between(self, after_seq: int, up_to: int) -> list[events.Frame]:
        roles = selectors.room_roles(room=self.access.room)
        frames: list[events.Frame] = []
        cursor = after_seq
        while cursor < up_to:
            batch = selectors.visible_messages(
                access=self.access,
                after_seq=cursor,
                up_to_seq=up_to,
                limit=settings.CHAT_RESUME_BATCH,
            )
            if not batch:
                break
            for message in batch:
                frames.append(
                    events.message_new(message, role=roles.get(message.author_id, "participant"))
                )
            cursor = batch[-1].seq
        return frames

    async def room_message(self, event: dict[str, Any]) -> None:
        seq = event["seq"]
        if seq <= self.last_seq:
            return  # already sent, by a replay or a gap fill
        if seq > self.last_seq + 1:
            # The layer lost or reordered something: the database has it.
            for frame in await database_sync_to_async(self._frames_between)(self.last_seq, seq - 1):
                await self.send(text_data=events.encode(frame))
        self.last_seq = seq
        await self.send(text_data=event["text"])

    async def room_control(self, event: dict[str, Any]) -> None:
        """A moderation notice: for the whole room, or for one user's sockets."""
        if event.get("user_id") not in (None, self.access.user.pk):
            return
        await self.send(text_data=event["text"])
        if event.get("close"):
            await self.close(code=CLOSE_FORBIDDEN)

    async def room_skip(self, event: dict[str, Any]) -> None:
        if event["seq"] == self.last_seq + 1:
            self.last_seq = event["seq"]

    async def _send(self, frame: events.Frame) -> None:
        await self.send(text_data=events.encode(frame))
