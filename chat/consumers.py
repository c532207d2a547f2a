"""The room socket. Thin: parse a frame, call one service, send what it returns.

Live traffic comes from the room hub (``chat.hub``), not from Channels groups: the hub puts
each event into this socket's bounded queue and one writer task sends them in seq order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from chat import events, fanout, ingest, presence, protocol, selectors
from chat.hub import HubEvent, get_hub
from chat.protocol import CLOSE_TOO_BIG, frame_too_big
from chat.services import PostResult
from chat.wire import SCOPE_KEY, DirectWriter, Written
from moderation.ladder import ensure_in_process_ladder
from moderation.services import message_report
from rooms.access import AccessDenied, Refusal, RoomAccess, access_room

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
# This socket fell too far behind (its queue filled): reconnect and resume by seq.
CLOSE_TOO_SLOW = 4008
# Messages of one socket queued for storing and not yet answered; past this the socket's
# reading waits (back-pressure on a client that sends faster than we store).
MAX_POSTS_IN_FLIGHT = 100


class RoomConsumer(AsyncWebsocketConsumer):
    # Room sockets take their live traffic from the hub; no per-socket channel-layer
    # channel (which would cost a Redis subscription and a receive loop per socket).
    channel_layer_alias = "room-sockets-use-the-hub"

    access: RoomAccess
    room_id: int | None = None
    user_id: int = 0
    session_key: str | None = None
    # The highest seq this socket has been sent (or told to skip): message.new frames go
    # out in strictly increasing seq order and never twice.
    last_seq: int = 0
    # A committed position the sync loop reported that this socket had not reached; if it
    # still has not by the next report, the socket fills the gap from the database.
    behind: int = 0
    writer: asyncio.Task[None] | None = None
    closing: bool = False
    posting: asyncio.Queue[tuple[str, asyncio.Future[PostResult]]] | None = None
    acker: asyncio.Task[None] | None = None
    presence_id: int | None = None
    # Writes a message frame straight to the transport, when the server allows (chat.wire).
    direct: DirectWriter | None = None
    buffer_limit: int = 0

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Handlers reach the ORM only through database_sync_to_async, which manages the
        # connection itself: skip Channels' per-message close_old_connections thread hop.
        handler = getattr(self, message["type"].replace(".", "_"), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        slug = self.scope["url_route"]["kwargs"]["slug"]
        try:
            after_seq = protocol.parse_after_seq(self.scope.get("query_string", b""))
            self.access = await database_sync_to_async(access_room)(
                user=self.scope.get("user"), slug=slug
            )
        except (AccessDenied, protocol.ProtocolError) as refused:
            # Accept first so that the close code reaches the client (a refused handshake
            # is only an HTTP 403).
            await self.accept()
            unauthenticated = getattr(refused, "code", "") == "unauthenticated"
            await self.close(code=CLOSE_UNAUTHENTICATED if unauthenticated else CLOSE_FORBIDDEN)
            return
        self.queue: asyncio.Queue[HubEvent] = asyncio.Queue(maxsize=settings.CHAT_SOCKET_QUEUE)
        self.send_lock = asyncio.Lock()
        # Join before reading the room's position, so no message falls between the two;
        # events queue up meanwhile and the writer drops what the replay already sent.
        # Accept only then: a client that sends right after the handshake is already live.
        self.room_id = self.access.room.pk
        self.user_id = self.access.user.pk
        self.direct = self.scope.get(SCOPE_KEY)
        # Read once: django.conf.settings costs a lazy-object lookup on every access, and
        # offer() runs for every socket of the room for every message.
        self.buffer_limit = settings.CHAT_SOCKET_BUFFER
        session = self.scope.get("session")
        self.session_key = getattr(session, "session_key", None)
        await get_hub().join(self.room_id, self)
        if after_seq is None:
            self.last_seq = await database_sync_to_async(selectors.room_last_seq)(
                room=self.access.room
            )
        await self.accept()
        ensure_in_process_ladder()
        if after_seq is not None:
            await self._replay(after_seq)
        self.writer = asyncio.get_running_loop().create_task(self._write_forever())
        await self._enter()

    async def disconnect(self, code: int) -> None:
        self.closing = True
        if self.room_id is not None:
            await get_hub().leave(self.room_id, self)
        for task in (self.writer, self.acker):
            if task is not None:
                task.cancel()
        await self._leave()

    # Presence: the room's leaders see who is here. A failure here never costs the socket.

    async def _enter(self) -> None:
        try:
            process_id = await get_hub().process_id()
            self.presence_id, notice = await database_sync_to_async(presence.presence_enter)(
                access=self.access, process_id=process_id
            )
            await fanout.send_outbox(notice, self._send)
        except Exception:
            logger.warning("room socket: presence not recorded", exc_info=True)
        if self.closing:
            await self._leave()  # closed while we were recording it

    async def _leave(self) -> None:
        if self.presence_id is None:
            return
        try:
            notice = await database_sync_to_async(presence.presence_leave)(
                access=self.access, presence_id=self.presence_id
            )
            self.presence_id = None
            await fanout.send_outbox(notice, self._send)
        except Exception:
            logger.warning("room socket: presence not cleared", exc_info=True)

    # From the client ------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        client_id = None
        if frame_too_big(text_data, bytes_data):
            await self.close(code=CLOSE_TOO_BIG)
            return
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
        """Queue the message for its room's group commit and read the next frame at once:
        a client sending quickly gets its messages stored in batches, in order. The acker
        task answers each in the order they were sent."""
        if self.posting is None:
            self.posting = asyncio.Queue(maxsize=MAX_POSTS_IN_FLIGHT)
            self.acker = asyncio.get_running_loop().create_task(self._ack_forever())
        future = ingest.enqueue(self.access, frame.client_id, frame.body)
        await self.posting.put((frame.client_id, future))

    async def _ack_forever(self) -> None:
        assert self.posting is not None
        while True:
            client_id, future = await self.posting.get()
            try:
                await self._answer(await future)
            except protocol.ProtocolError as exc:
                await self._send(events.error(exc.code, exc.detail, client_id))
            except Refusal as exc:
                await self._send(events.error(exc.code, exc.detail, client_id))
            except Exception:
                logger.exception("room socket: posting failed")
                await self._send(
                    events.error(
                        "server_error", "Something went wrong; please try again.", client_id
                    )
                )

    async def _answer(self, result: PostResult) -> None:
        # Stored and committed: acknowledge first, then the private and staff notices,
        # then the room.
        await self._send(result.ack)
        await fanout.send_outbox(result.outbox, self._send)
        if result.broadcast is not None:
            # Not waiting for Redis: the next message's ack need not wait for this one's
            # publish (the hub sends them in order, in batches).
            await fanout.publish_message(
                room_id=self.access.room.pk,
                seq=result.message.seq,
                text=events.encode(result.broadcast),
                wait=False,
            )
        elif result.created:
            await fanout.publish_skip(
                room_id=self.access.room.pk, seq=result.message.seq, wait=False
            )

    # Replays ----------------------------------------------------------------------------

    async def _replay(self, after_seq: int) -> None:
        """Send every visible message after ``after_seq`` in order, then resume.done."""
        async with self.send_lock:
            up_to, frames = await database_sync_to_async(self._replay_frames)(after_seq)
            for frame in frames:
                await self._send(frame)
            self.last_seq = max(self.last_seq, up_to)
            await self._send(events.resume_done(up_to))

    def _replay_frames(self, after_seq: int) -> tuple[int, list[events.Frame]]:
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
            frames.extend(events.message_new_in_room(message, roles) for message in batch)
            cursor = batch[-1].seq
        return frames

    async def _fill_to(self, seq: int) -> None:
        """Send what the database has between last_seq and ``seq`` (inclusive)."""
        frames = await database_sync_to_async(self._frames_between)(self.last_seq, seq)
        for frame in frames:
            await self._send(frame)
        self.last_seq = max(self.last_seq, seq)

    # From the hub -----------------------------------------------------------------------

    def offer(self, event: HubEvent) -> None:
        """Called by the hub for every event of this room; never blocks."""
        if self.closing:
            return
        # Nothing queued before this event and no replay or gap fill under way (the writer
        # holds send_lock from the moment it takes an event): handle it in this same turn,
        # writing a message's frame (made once by the hub) straight to the transport.
        if self.direct is not None and self.queue.empty() and not self.send_lock.locked():
            if event.kind == "m" and event.seq == self.last_seq + 1:
                written = self.direct(event.frame, self.buffer_limit)
                if written is Written.DONE:
                    self.last_seq = event.seq
                    return
                if written is Written.TOO_SLOW:
                    self._too_slow()
                    return
            elif event.kind == "s" and event.seq == self.last_seq + 1:
                self.last_seq = event.seq
                return
            elif event.kind in "ms" and event.seq <= self.last_seq:
                return  # already sent: a publish that came late, after a gap fill or replay
            elif event.kind == "y" and not (self.behind and self.last_seq < self.behind):
                # The sync loop's position, with no gap to fill: noted here, not queued,
                # or a burst under way would take the slow way for every socket it reached.
                self.behind = event.seq if event.seq > self.last_seq else 0
                return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self._too_slow()

    def _too_slow(self) -> None:
        # A slow reader must not hold up the room: close it; its client resumes by seq.
        self.closing = True
        asyncio.get_running_loop().create_task(self.close(code=CLOSE_TOO_SLOW))

    def revoke(self) -> None:
        """Signed out, deactivated or removed: close (the client must not reconnect)."""
        if self.closing:
            return
        self.closing = True
        asyncio.get_running_loop().create_task(self.close(code=CLOSE_UNAUTHENTICATED))

    async def _write_forever(self) -> None:
        while True:
            event = await self.queue.get()
            async with self.send_lock:
                await self._deliver(event)
                # Whatever else is queued goes out in the same turn.
                while not self.queue.empty():
                    await self._deliver(self.queue.get_nowait())

    async def _deliver(self, event: HubEvent) -> None:
        try:
            if event.kind == "m":
                if event.seq <= self.last_seq:
                    return  # already sent, by a replay or a gap fill
                if event.seq > self.last_seq + 1:
                    # The transport lost or reordered something: the database has it.
                    await self._fill_to(event.seq - 1)
                self.last_seq = event.seq
                await self.base_send({"type": "websocket.send", "text": event.text})
            elif event.kind == "s":
                if event.seq == self.last_seq + 1:
                    self.last_seq = event.seq
            elif event.kind == "y":
                if self.behind and self.last_seq < self.behind:
                    await self._fill_to(self.behind)
                self.behind = event.seq if event.seq > self.last_seq else 0
            elif event.kind == "c" and event.user_id in (None, self.access.user.pk):
                await self.base_send({"type": "websocket.send", "text": event.text})
                if event.close:
                    self.closing = True
                    await self.close(code=CLOSE_FORBIDDEN)
        except Exception:
            logger.exception("room socket: delivery failed")
            with contextlib.suppress(Exception):
                await self.close(code=1011)

    async def _send(self, frame: events.Frame) -> None:
        await self.send(text_data=events.encode(frame))
