"""The room hub: one subscription per active room per process, fan-out to local sockets.

Why not Channels groups: the textbook path costs a deserialise, a handler dispatch and a
thread hop per receiver per message (see ../shared/DESIGN.md, "Fan-out"). Here a frame is
encoded once, published once to Redis (or handed over in process when embedded), and each
process pushes the same text into each of its own sockets' bounded queues.

The hub never decides what a socket may see; it only carries notices of what the database
already holds. Sockets keep their own last seq, fill gaps from the database, and the hub's
sync loop tells every socket each room's committed position every few seconds, so that a
publish lost anywhere (Redis restart, a full queue) still reaches every client.

Publishes can cross on the way (two senders, two processes): the hub puts a room's message
events back in seq order, and when a gap stays open for ``REORDER_SECONDS`` it reads the
missing seqs from the database once for the whole process, rather than each socket reading
them for itself (300 queries in a room of 300, and every socket off the direct write path
for the rest of the burst). What it passes on is what the publisher would have sent: a
delivered message's frame, which every member may see, or a skip for anything else.

Wire format, one Redis message per event (the frame text is never parsed again):
``m|seq|text`` a message.new frame; ``s|seq|`` a seq not for the room (held);
``c|user_id or -|0 or 1|text`` a control frame for the room or one user (1: then close);
``y|seq|`` the room's committed position (from the sync loop).
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from socket import gethostname
from typing import Protocol

from channels.db import database_sync_to_async
from django.conf import settings
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from chat.wire import text_frame

logger = logging.getLogger(__name__)

SYNC_SECONDS = 2.0
# How long the hub holds a message that overtook an earlier one (two senders' publishes
# can cross on the way) before it lets sockets fetch the missing seq from the database.
REORDER_SECONDS = 0.2
# At most this many events in one Redis pipeline.
PUBLISH_BATCH = 256
# A gap wider than this is left to the sockets (and the sync loop), not read by the hub.
MAX_HUB_FILL = 500


@dataclass
class RoomOrder:
    """Per room: the highest seq passed on in order, and what arrived ahead of a gap."""

    last: int | None = None
    ahead: dict[int, str] = field(default_factory=dict)
    timer: asyncio.TimerHandle | None = None
    filling: bool = False  # the hub is reading the gap's seqs from the database


@dataclass(frozen=True, slots=True)
class HubEvent:
    kind: str  # "m", "s", "c" or "y"
    seq: int = 0
    text: str = ""
    user_id: int | None = None
    close: bool = False
    # A message's WebSocket frame, made once for every socket of the process (chat.wire);
    # derived from text, so not part of the event's identity.
    frame: bytes = field(default=b"", compare=False, repr=False)


def encode_message(seq: int, text: str) -> str:
    return f"m|{seq}|{text}"


def encode_skip(seq: int) -> str:
    return f"s|{seq}|"


def encode_control(text: str, *, user_id: int | None, close: bool) -> str:
    return f"c|{'-' if user_id is None else user_id}|{1 if close else 0}|{text}"


def decode(wire: str) -> HubEvent:
    kind = wire[:1]
    if kind == "c":
        _, user, close, text = wire.split("|", 3)
        return HubEvent(
            "c", text=text, user_id=None if user == "-" else int(user), close=close == "1"
        )
    _, seq, text = wire.split("|", 2)
    if kind == "m":
        return HubEvent(kind, seq=int(seq), text=text, frame=text_frame(text))
    return HubEvent(kind, seq=int(seq), text=text)


class RoomSocket(Protocol):
    room_id: int | None
    user_id: int
    session_key: str | None
    last_seq: int

    def offer(self, event: HubEvent) -> None: ...

    def revoke(self) -> None: ...


def _wires_for(room_id: int, seqs: list[int]) -> list[tuple[int, str]]:
    """For seqs whose publish did not come: what their publishers sent, read back from the
    database (a delivered message's frame, as a replay builds it; a skip for the rest)."""
    from chat import events, selectors

    delivered = selectors.messages_for_everyone(room_id=room_id, seqs=seqs)
    roles = selectors.room_roles(room=room_id) if delivered else {}
    wires = []
    for seq in seqs:
        message = delivered.get(seq)
        if message is None:
            wires.append((seq, encode_skip(seq)))
        else:
            frame = events.encode(events.message_new_in_room(message, roles))
            wires.append((seq, encode_message(seq, frame)))
    return wires


def _room_positions(room_ids: Iterable[int]) -> list[tuple[int, int]]:
    from rooms.models import Room

    return list(Room.objects.filter(pk__in=list(room_ids)).values_list("pk", "last_seq"))


def _positions_and_revoked(
    room_ids: list[int], sockets: list[RoomSocket]
) -> tuple[list[tuple[int, int]], list[RoomSocket]]:
    from rooms.access import connections_still_allowed

    keep = connections_still_allowed([(s.room_id or 0, s.user_id, s.session_key) for s in sockets])
    revoked = [s for index, s in enumerate(sockets) if index not in keep]
    return _room_positions(room_ids), revoked


class RoomHub:
    """The process's sockets by room, and its one Redis subscription per active room."""

    def __init__(self, redis_url: str, prefix: str) -> None:
        self.redis_url = redis_url
        self.prefix = prefix
        self.local: dict[int, set[RoomSocket]] = {}
        self._redis: Redis | None = None
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._syncer: asyncio.Task[None] | None = None
        self._confirmed: dict[str, asyncio.Event] = {}
        self._order: dict[int, RoomOrder] = {}
        self._lock = asyncio.Lock()
        self._outgoing: list[tuple[str, str, asyncio.Future[None] | None]] = []
        self._publisher: asyncio.Task[None] | None = None
        # This process as presence rows name it; it beats with every sync.
        self.process_name = f"{gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._process_id: int | None = None

    def channel(self, room_id: int) -> str:
        return f"{self.prefix}:room:{room_id}"

    async def process_id(self) -> int:
        """This process's row for presence (registered on first use)."""
        if self._process_id is None:
            self._process_id = await self._beat()
        return self._process_id

    async def _beat(self) -> int:
        from chat.presence import process_beat

        return await database_sync_to_async(process_beat)(name=self.process_name)

    async def join(self, room_id: int, socket: RoomSocket) -> None:
        """Add a socket; returns once events published from now on will reach it."""
        sockets = self.local.setdefault(room_id, set())
        sockets.add(socket)
        if self._syncer is None or self._syncer.done():
            self._syncer = asyncio.get_running_loop().create_task(self._sync_forever())
        if self.redis_url and len(sockets) == 1:
            await self._subscribe(room_id)

    async def leave(self, room_id: int, socket: RoomSocket) -> None:
        sockets = self.local.get(room_id)
        if sockets is None:
            return
        sockets.discard(socket)
        if not sockets:
            del self.local[room_id]
            order = self._order.pop(room_id, None)
            if order is not None and order.timer is not None:
                order.timer.cancel()
            if self.redis_url and self._pubsub is not None:
                async with self._lock:
                    if room_id not in self.local:
                        await self._pubsub.unsubscribe(self.channel(room_id))

    async def publish(self, room_id: int, wire: str, *, wait: bool = True) -> None:
        """Publish an event for the room's sockets in every process.

        Publishes go out in the order they were made, through one Redis pipeline per batch
        (one round trip for all that gathered while the last batch was on its way), so a
        burst costs a round trip per batch, not one per message, and one process's events
        never cross each other. ``wait=False`` returns at once: for message and skip events
        from a long-lived process, whose loss the sync loop mends; without it the caller
        waits until its batch is sent (or failed, logged: a publish never raises).
        """
        if not self.redis_url:
            self.dispatch(room_id, wire)
            return
        loop = asyncio.get_running_loop()
        sent = loop.create_future() if wait else None
        self._outgoing.append((self.channel(room_id), wire, sent))
        if self._publisher is None or self._publisher.done():
            self._publisher = loop.create_task(self._publish_forever())
        if sent is not None:
            await sent

    async def _publish_forever(self) -> None:
        redis, _ = await self._ensure_redis()
        while self._outgoing:
            batch = self._outgoing[:PUBLISH_BATCH]
            del self._outgoing[:PUBLISH_BATCH]
            try:
                async with redis.pipeline(transaction=False) as pipe:
                    for channel, wire, _ in batch:
                        pipe.publish(channel, wire)
                    await pipe.execute()
            except (RedisError, OSError):
                # The messages are stored; the sync loop brings them to every socket once
                # Redis is back. No sender's ack may turn into an error because of this.
                logger.warning("room hub: publish failed; the sync loop will deliver it")
            for _, _, sent in batch:
                if sent is not None and not sent.done():
                    sent.set_result(None)

    def dispatch(self, room_id: int, wire: str) -> None:
        """Pass an event to the room's sockets, message and skip events in seq order.

        Without this, two messages whose publishes crossed would make every socket of the
        room fetch the first one from the database: one query per socket, per crossing.
        """
        if room_id not in self.local:
            return
        if wire[0] not in "ms":
            self._offer(room_id, wire)
            return
        seq = int(wire.split("|", 2)[1])
        order = self._order.get(room_id)
        if order is None:
            # Where the room's sockets stand: a first event that overtook another is then
            # held like any other, not passed on as the new position.
            known = max((s.last_seq for s in self.local[room_id]), default=0)
            order = self._order[room_id] = RoomOrder(last=known or None)
        if order.last is not None and seq > order.last + 1:
            order.ahead[seq] = wire
            self._arm(room_id, order)
            return
        self._offer(room_id, wire)
        if order.last is None or seq > order.last:
            order.last = seq
        self._advance(room_id, order)

    def _advance(self, room_id: int, order: RoomOrder) -> None:
        """Pass on what waited and is next in seq order."""
        while order.ahead and order.last is not None and order.last + 1 in order.ahead:
            order.last += 1
            self._offer(room_id, order.ahead.pop(order.last))
        if not order.ahead and order.timer is not None:
            order.timer.cancel()
            order.timer = None

    def _arm(self, room_id: int, order: RoomOrder) -> None:
        if order.timer is None and not order.filling:
            order.timer = asyncio.get_running_loop().call_later(
                REORDER_SECONDS, self._release, room_id
            )

    def _release(self, room_id: int) -> None:
        """The gap did not close in time: read the missing seqs once for the process."""
        order = self._order.get(room_id)
        if order is None:
            return
        order.timer = None
        if not order.ahead or order.last is None:
            return
        missing = [s for s in range(order.last + 1, max(order.ahead)) if s not in order.ahead]
        if len(missing) > MAX_HUB_FILL:
            self._pass_ahead(room_id, order)
            return
        order.filling = True
        asyncio.get_running_loop().create_task(self._fill_gap(room_id, missing))

    async def _fill_gap(self, room_id: int, missing: list[int]) -> None:
        try:
            wires: list[tuple[int, str]] | None = await database_sync_to_async(_wires_for)(
                room_id, missing
            )
        except Exception:
            logger.warning("room hub: could not read a gap; sockets fill it", exc_info=True)
            wires = None
        order = self._order.get(room_id)
        if order is None:
            return  # the room's last socket left meanwhile
        order.filling = False
        if wires is None:
            self._pass_ahead(room_id, order)
            return
        for seq, wire in wires:
            if order.last is not None and seq > order.last:
                order.ahead.setdefault(seq, wire)  # a publish that came meanwhile wins
        self._advance(room_id, order)
        if order.ahead:
            self._arm(room_id, order)  # a newer gap opened while we read

    def _pass_ahead(self, room_id: int, order: RoomOrder) -> None:
        """Pass on everything that waited; each socket fills what it misses itself."""
        for seq in sorted(order.ahead):
            order.last = max(order.last or 0, seq)
            self._offer(room_id, order.ahead.pop(seq))

    def _offer(self, room_id: int, wire: str) -> None:
        sockets = self.local.get(room_id)
        if not sockets:
            return
        event = decode(wire)
        for socket in list(sockets):
            socket.offer(event)

    # Redis ------------------------------------------------------------------------------

    async def _ensure_redis(self) -> tuple[Redis, PubSub]:
        if self._redis is None or self._pubsub is None:
            # No socket timeout: the subscriber's reads block for as long as a room is quiet.
            self._redis = Redis.from_url(self.redis_url, socket_timeout=None)
            self._pubsub = self._redis.pubsub()
        return self._redis, self._pubsub

    async def _subscribe(self, room_id: int) -> None:
        channel = self.channel(room_id)
        async with self._lock:
            _, pubsub = await self._ensure_redis()
            confirmed = self._confirmed.setdefault(channel, asyncio.Event())
            await pubsub.subscribe(channel)
            if self._reader is None or self._reader.done():
                self._reader = asyncio.get_running_loop().create_task(self._read_forever())
        try:
            # Redis confirms once it has the subscription: from then on nothing published
            # to the room can pass this process by.
            await asyncio.wait_for(confirmed.wait(), timeout=5)
        except TimeoutError:
            logger.warning("room hub: no subscribe confirmation from Redis; relying on sync")

    async def _read_forever(self) -> None:
        pubsub = self._pubsub
        assert pubsub is not None
        prefix = f"{self.prefix}:room:"
        while True:
            try:
                if not pubsub.subscribed:
                    await asyncio.sleep(0.05)
                    continue
                message = await pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                # redis-py reconnects and resubscribes on the next read; whatever was
                # published meanwhile comes back through the sync loop.
                logger.warning("room hub: Redis connection lost; reconnecting", exc_info=True)
                await asyncio.sleep(0.5)
                continue
            if message is None:
                continue
            channel = message["channel"].decode()
            if message["type"] == "subscribe":
                event = self._confirmed.pop(channel, None)
                if event is not None:
                    event.set()
                # After a reconnect every room is resubscribed: catch up at once.
                self._sync_now([int(channel[len(prefix) :])])
                continue
            if message["type"] != "message":
                continue
            self.dispatch(int(channel[len(prefix) :]), message["data"].decode())

    # Sync -------------------------------------------------------------------------------

    def _sync_now(self, room_ids: list[int]) -> None:
        asyncio.get_running_loop().create_task(self._sync(room_ids))

    async def _sync(self, room_ids: list[int]) -> None:
        """Tell each room's sockets its committed position, and close the sockets whose
        session or membership is gone (signing out closes a user's sockets within seconds)."""
        if not room_ids:
            return
        sockets = [s for room_id in room_ids for s in self.local.get(room_id, ())]
        try:
            positions, revoked = await database_sync_to_async(_positions_and_revoked)(
                room_ids, sockets
            )
        except Exception:
            logger.warning("room hub: sync failed; trying again", exc_info=True)
            return
        for socket in revoked:
            socket.revoke()
        for room_id, last_seq in positions:
            self._offer(room_id, f"y|{last_seq}|")

    async def _sync_forever(self) -> None:
        while self.local:
            await asyncio.sleep(SYNC_SECONDS)
            await self._sync(list(self.local))
            try:
                self._process_id = await self._beat()
            except Exception:
                logger.warning("room hub: presence beat failed; trying again", exc_info=True)


_hubs: dict[asyncio.AbstractEventLoop, RoomHub] = {}


def get_hub() -> RoomHub:
    """This event loop's hub (a process has one loop under daphne or uvicorn)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        for old in [key for key in _hubs if key.is_closed()]:
            del _hubs[old]
        hub = _hubs[loop] = RoomHub(settings.REDIS_URL, settings.CHANNEL_LAYER_PREFIX)
    return hub
