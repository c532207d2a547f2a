"""Group commit: messages waiting for the same room are stored in one transaction.

Each room's seq is taken under its row lock, held until commit, so one room's commits queue
one behind the other and a room could store only as many messages a second as its database
can commit. Here, while one batch of a room is being stored, the messages that arrive for it
wait together and go in the next batch: one seq range, one insert, one commit. At low load a
batch holds one message and adds no delay; under a burst the batches grow.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from channels.db import database_sync_to_async

from chat.services import PostResult, message_post_batch
from rooms.access import RoomAccess

MAX_BATCH = 64

Post = tuple[RoomAccess, str, str]


@dataclass
class RoomIngest:
    pending: list[tuple[Post, asyncio.Future[PostResult]]] = field(default_factory=list)
    draining: bool = False

    def enqueue(self, post: Post) -> asyncio.Future[PostResult]:
        """Queue a post for this room's next batch; the future resolves once it is stored."""
        future: asyncio.Future[PostResult] = asyncio.get_running_loop().create_future()
        self.pending.append((post, future))
        if not self.draining:
            self.draining = True
            asyncio.get_running_loop().create_task(self._drain())
        return future

    async def _drain(self) -> None:
        try:
            while self.pending:
                batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
                try:
                    results = await database_sync_to_async(
                        message_post_batch, thread_sensitive=False
                    )([post for post, _ in batch])
                except Exception as exc:  # the whole batch failed: nothing was stored
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():  # its socket went away; the message is stored all the same
                        continue
                    if isinstance(result, PostResult):
                        future.set_result(result)
                    else:
                        future.set_exception(result)
        finally:
            self.draining = False


_ingests: dict[asyncio.AbstractEventLoop, dict[int, RoomIngest]] = {}


def enqueue(access: RoomAccess, client_id: str, body: str) -> asyncio.Future[PostResult]:
    """Queue a message for its room's group commit, in order; await the future for the
    result (it raises what message_post raises). Posts queued one after the other are
    stored in that order."""
    loop = asyncio.get_running_loop()
    rooms = _ingests.get(loop)
    if rooms is None:
        for old in [key for key in _ingests if key.is_closed()]:
            del _ingests[old]
        rooms = _ingests[loop] = {}
    ingest = rooms.setdefault(access.room.pk, RoomIngest())
    return ingest.enqueue((access, client_id, body))
