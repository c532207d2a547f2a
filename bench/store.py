"""Messages stored per second, with seq allocation, on the database (PostgreSQL in production).

    DATABASE_URL=postgres://... python bench/store.py [--messages 2000] [--writers 8]

In process, through the real service (screening, the room's row lock for the seq, the
insert, the commit), on real connections; no sockets. Three ways, all into one room:
- one writer, one message per commit (``message_post``);
- ``--writers`` threads at once, each on its own connection, one message per commit: they
  queue on the room's row lock, as several daphne processes do;
- group commit (``message_post_batch``, what the room socket uses under load): batches of
  64 messages, one seq range, one insert and one commit each.
After each, the room's seqs are checked: 1..N once each, no gap, no repeat.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
import uuid

from harness import bench_env, prepare_world

BATCH = 64
BODIES = ["how was everyone's day", "I went for a walk today", "thanks for listening"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--writers", type=int, default=8)
    args = parser.parse_args()
    env = bench_env()
    prepare_world(env, crowd=args.writers)
    os.environ.update(
        {
            k: v
            for k, v in env.items()
            if k in ("DATABASE_URL", "REDIS_URL", "PEERSUPPORT_VAR_DIR", "CHAT_RATE_LIMIT")
        }
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection, connections

    from chat.models import Message
    from chat.services import message_post, message_post_batch
    from rooms.access import access_room
    from rooms.models import Room, User

    def fresh_room(name: str) -> Room:
        room = Room.objects.get(slug="evening-circle")
        Message.objects.filter(room=room).delete()
        Room.objects.filter(pk=room.pk).update(last_seq=0)
        print(f"-- {name}", flush=True)
        return room

    def check(room: Room, expected: int) -> str:
        seqs = list(Message.objects.filter(room=room).order_by("seq").values_list("seq", flat=True))
        ok = seqs == list(range(1, expected + 1))
        return (
            "seqs 1..N once each"
            if ok
            else f"SEQ ERROR: {len(seqs)} rows, {len(set(seqs))} distinct"
        )

    peers = list(User.objects.filter(username__startswith="peer").order_by("username"))
    n = args.messages
    print(f"database: {connection.vendor}; {n} messages per run, one room")

    room = fresh_room("one writer, one commit per message")
    access = access_room(user=peers[0], slug=room.slug)
    started = time.perf_counter()
    for i in range(n):
        message_post(access=access, client_id=uuid.uuid4().hex, body=BODIES[i % 3])
    one = n / (time.perf_counter() - started)
    print(f"one writer:         {one:8.0f} messages/s  ({check(room, n)})", flush=True)

    room = fresh_room(f"{args.writers} writers at once, one commit per message")
    each = n // args.writers
    barrier = threading.Barrier(args.writers)

    def writer(user: User) -> None:
        try:
            mine = access_room(user=user, slug=room.slug)
            barrier.wait()
            for i in range(each):
                message_post(access=mine, client_id=uuid.uuid4().hex, body=BODIES[i % 3])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(u,)) for u in peers[: args.writers]]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    many = each * args.writers / (time.perf_counter() - started)
    print(
        f"{args.writers} writers:          {many:8.0f} messages/s  ({check(room, each * args.writers)})",
        flush=True,
    )

    room = fresh_room(f"group commit, batches of {BATCH}")
    started = time.perf_counter()
    for first in range(0, n, BATCH):
        message_post_batch(
            [(access, uuid.uuid4().hex, BODIES[i % 3]) for i in range(first, min(first + BATCH, n))]
        )
    grouped = n / (time.perf_counter() - started)
    print(f"group commit:       {grouped:8.0f} messages/s  ({check(room, n)})", flush=True)
    fresh_room("cleaned up")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
