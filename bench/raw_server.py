"""The ceiling: a raw `websockets` broadcast server, no Django, no auth, no database.

    python bench/raw_server.py PORT

Each text frame {"type": "message.send", "client_id", "body"} from any client is given the
next seq, acked to its sender and broadcast, encoded once, to every connected client, the
same frames the product sends. Bench-only; listens on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime

import websockets
from websockets.asyncio.server import ServerConnection, broadcast

clients: set[ServerConnection] = set()
seq = 0


async def handler(ws: ServerConnection) -> None:
    global seq
    clients.add(ws)
    try:
        async for text in ws:
            frame = json.loads(text)
            if frame.get("type") != "message.send":
                continue
            seq += 1
            await ws.send(
                json.dumps(
                    {
                        "type": "message.ack",
                        "client_id": frame["client_id"],
                        "seq": seq,
                        "status": "delivered",
                    },
                    separators=(",", ":"),
                )
            )
            new = json.dumps(
                {
                    "type": "message.new",
                    "seq": seq,
                    "client_id": frame["client_id"],
                    "author": {"username": "bench", "display_name": "Bench", "role": "participant"},
                    "body": frame["body"],
                    "sent_at": datetime.now(UTC).isoformat(),
                },
                separators=(",", ":"),
            )
            broadcast(clients, new)
    finally:
        clients.discard(ws)


async def main(port: int) -> None:
    async with websockets.serve(handler, "127.0.0.1", port, max_queue=None, compression=None):
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
