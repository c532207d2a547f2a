"""A lean WebSocket client for the load generator: one asyncio Protocol per socket.

Why not the `websockets` client: in a room of 300 the load generator receives every
delivery, and with `websockets` (a task wake-up, a queue and a JSON decode per frame) it
spent about as much CPU per delivery as the servers it measures, so on a 2-core machine
the figures were the load generator's.

Here a socket does almost nothing while the load runs: it keeps each read's bytes and
receipt time and counts the messages in it with one substring count (``received``). Frames
are cut out and read only when asked for (``Tally.seqs``, ``latencies``, ``acks``), after the
load, from the whole stream: every message's seq and send time, every ack, each with the
receipt time of the read that completed its frame. The one thing that cannot wait, a ping
or a close from the server, is looked for in each read by its first byte, and then the
frames not yet walked are walked to answer it.

Measured with bench frames: about 3x less CPU per delivery than walking every read as it
came (and walking every read cost about as much as the servers' own work per delivery).
It speaks RFC 6455 as a client must (the opening handshake with its accept check, masked
frames, pong for ping, the closing handshake). It is for the bench only: 127.0.0.1, no TLS,
no extensions, no fragmented messages (the servers measured never fragment).
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import hashlib
import itertools
import os
import re
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# Once in every message.new frame and nowhere else: inside a JSON string its quotes would
# be escaped.
MESSAGE_MARK = b'"type":"message.new"'
TYPE_AT = len(b'{"type":')
# A message's seq and (the bench's messages carry it in their body) send time. Every server
# sends the fields in this order.
NEW_FIELDS = re.compile(
    rb'"message\.new","seq":(\d+),"client_id":"[^"]*","author":\{[^}]*\},"body":"(?:t=([0-9.]+) )?'
)
ACK_FIELDS = re.compile(rb'"message\.ack","client_id":"([^"]*)","seq":(\d+)')
# First bytes of a ping and a close frame (a length byte can be the same value: then the
# frames are walked for nothing, which costs time, not correctness).
PING, CLOSE = b"\x89", b"\x88"


class HandshakeFailed(Exception):
    pass


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A final, masked client frame (RFC 6455 section 5.3)."""
    mask = os.urandom(4)
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
    key = (mask * (size // 4 + 1))[:size]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(size, "big")
    return header + mask + masked


def frames(data: bytes, at: int = 0) -> Iterator[tuple[int, int, int]]:
    """(first byte, payload start, end) of every whole frame in ``data`` from ``at``, which
    must be a frame's first byte; stops at a frame cut off by the end of ``data``."""
    size = len(data)
    while size - at >= 2:
        length = data[at + 1] & 0x7F
        head = at + 2
        if length == 126:
            if size - at < 4:
                return
            length, head = int.from_bytes(data[at + 2 : at + 4], "big"), at + 4
        elif length == 127:
            if size - at < 10:
                return
            length, head = int.from_bytes(data[at + 2 : at + 10], "big"), at + 10
        end = head + length
        if end > size:
            return
        yield data[at], head, end
        at = end


@dataclass
class Read:
    """What one socket has read since its handshake, as it came."""

    chunks: list[bytes] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # receipt time of each chunk

    def stream(self) -> tuple[bytes, list[int]]:
        """All the bytes, and where each chunk ends in them."""
        return b"".join(self.chunks), list(itertools.accumulate(map(len, self.chunks)))


@dataclass
class Tally:
    """What one socket received: messages counted as they come; their seqs in arrival
    order, latencies and the acks read from the stream when asked for."""

    received: int = 0  # message.new frames, duplicates included
    last_receipt: float = 0.0
    read: Read = field(default_factory=Read)
    _tail: bytes = b""  # the end of the last read, for a mark cut in two by a read
    _parsed: tuple[list[int], list[float], dict[str, int], float] | None = None

    def feed(self, data: bytes, now: float) -> None:
        self.read.chunks.append(data)
        self.read.times.append(now)
        keep = len(MESSAGE_MARK) - 1
        if len(data) >= keep:
            # The marks in this read, and one that began in the last read and ends here.
            count = data.count(MESSAGE_MARK)
            if self._tail:
                count += (self._tail + data[:keep]).count(MESSAGE_MARK)
            self._tail = data[-keep:]
        else:
            joined = self._tail + data
            count = joined.count(MESSAGE_MARK)
            self._tail = joined[-keep:]
        if count:
            self.received += count
            self.last_receipt = now
        self._parsed = None

    def _parse(self) -> tuple[list[int], list[float], dict[str, int], float]:
        if self._parsed is None:
            stream, ends = self.read.stream()
            times = self.read.times
            seqs: list[int] = []
            latencies: list[float] = []
            acks: dict[str, int] = {}
            last_ack = 0.0
            for first, head, end in frames(stream):
                if first != 0x81:
                    continue
                now = times[bisect.bisect_left(ends, end)]  # the read its last byte came in
                fields = NEW_FIELDS.match(stream, head + TYPE_AT, end)
                if fields is not None:
                    seqs.append(int(fields[1]))
                    if fields[2]:
                        latencies.append(now - float(fields[2]))
                    continue
                ack = ACK_FIELDS.match(stream, head + TYPE_AT, end)
                if ack is not None:
                    acks[ack[1].decode()] = int(ack[2])
                    last_ack = now
            self._parsed = (seqs, latencies, acks, last_ack)
        return self._parsed

    @property
    def seqs(self) -> list[int]:
        return self._parse()[0]

    @property
    def latencies(self) -> list[float]:
        return self._parse()[1]

    @property
    def acks(self) -> dict[str, int]:
        return self._parse()[2]

    @property
    def last_ack(self) -> float:
        return self._parse()[3]


class LeanSocket(asyncio.Protocol):
    def __init__(self, request: bytes, key: bytes) -> None:
        self.request = request
        self.accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.buffer = bytearray()  # the handshake, until it is complete
        self.open = False
        self.close_sent = False
        self.tally = Tally()
        # The first frame not walked yet for control frames: (chunk, offset in it).
        self.walked = (0, 0)

    # asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(HandshakeFailed(f"connection lost: {exc}"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        if not self.open:
            self.buffer += data
            if not self._handshake():
                return
            data = bytes(self.buffer)
            self.buffer.clear()
            if not data:
                return
        self.tally.feed(data, time.perf_counter())
        if PING in data or CLOSE in data:
            self._answer_controls()

    def _answer_controls(self) -> None:
        """Walk the frames read since the last walk, answering pings and a close."""
        chunk, offset = self.walked
        chunks = self.tally.read.chunks
        data = b"".join(chunks[chunk:])
        at = offset
        for first, head, end in frames(data, offset):
            if first != 0x81:
                self._control(first, data[head:end])
            at = end
        # Where the walk stopped, as (chunk, offset): the start of a frame not yet whole.
        for index in range(chunk, len(chunks)):
            if at < len(chunks[index]):
                break
            at -= len(chunks[index])
            chunk = index + 1
        self.walked = (chunk, at)

    def _control(self, first: int, payload: bytes) -> None:
        if not first & 0x80:
            raise ValueError("fragmented message: not supported by the bench client")
        opcode = first & 0x0F
        if opcode == 0x9:
            self._write(client_frame(0xA, payload))
        elif opcode == 0x8:
            if not self.close_sent:  # the server began the closing handshake
                self.close_sent = True
                self._write(client_frame(0x8, payload[:2]))
            assert self.transport is not None
            self.transport.close()

    # ------------------------------------------------------------------------------------

    def _handshake(self) -> bool:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(self.buffer[:end]).lower()
        del self.buffer[: end + 4]
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status + b" " or self.accept.lower() not in head:
            self.opened.set_exception(HandshakeFailed(status.decode(errors="replace")))
            assert self.transport is not None
            self.transport.close()
            return False
        self.open = True
        self.opened.set_result(None)
        return True

    def _write(self, frame: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(frame)

    def send_text(self, text: str) -> None:
        self._write(client_frame(0x1, text.encode()))

    async def close(self) -> None:
        """The closing handshake: our close frame, then the server's, then TCP closes."""
        if not self.close_sent:
            self.close_sent = True
            self._write(client_frame(0x8, struct.pack("!H", 1000)))
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), timeout=5)
        except TimeoutError:
            if self.transport is not None:
                self.transport.abort()


async def connect(port: int, path: str, headers: dict[str, str], timeout: float = 30) -> LeanSocket:
    """Open a WebSocket to 127.0.0.1:port; raises HandshakeFailed unless the server says 101."""
    key = base64.b64encode(os.urandom(16))
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key.decode()}",
        "Sec-WebSocket-Version: 13",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(lambda: LeanSocket(request, key), "127.0.0.1", port)
    await asyncio.wait_for(protocol.opened, timeout)
    return protocol
