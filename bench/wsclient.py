"""A lean WebSocket client for the load generator: one asyncio Protocol per socket.

Why not the `websockets` client: in a room of 300 the load generator receives every
delivery, and with `websockets` (a task wake-up, a queue and a JSON decode per frame) it
spent about as much CPU per delivery as the servers it measures, so on a 2-core machine
the figures were the load generator's. Here frames are cut out of the stream in place and
only the fields the bench needs (type, seq, client_id, the send time in the body) are read,
by byte search; all frames that arrive in one read share one receipt time.

A read of several JSON text frames and nothing else (what a burst brings) is not walked frame by frame:
one regular expression takes every message's seq and send time in one pass (about 3x
less CPU per delivery than the walk, measured with bench frames), and only the last
frame's header is read, to keep a frame cut off by the read for the next one. A read
with anything else in it (a ping, a close, a byte that could be either) is walked.

It speaks RFC 6455 as a client must (the opening handshake with its accept check, masked
frames, pong for ping, the closing handshake). It is for the bench only: 127.0.0.1, no TLS,
no extensions, no fragmented messages (the servers measured never fragment).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import re
import struct
import time
from dataclasses import dataclass, field

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MESSAGE_ACK = b'{"type":"message.ack"'
# Every frame the servers send is a JSON object that starts so; such bytes cannot occur
# inside a JSON string (its quotes would be escaped).
FRAME_JSON = b'{"type":'
TYPE_AT = len(FRAME_JSON)
# A message's seq and (the bench's messages carry it in their body) send time. Every server
# sends the fields in this order.
NEW_FIELDS = re.compile(
    rb'"message\.new","seq":(\d+),"client_id":"[^"]*","author":\{[^}]*\},"body":"(?:t=([0-9.]+) )?'
)
ACK_FIELDS = re.compile(rb'"message\.ack","client_id":"([^"]*)","seq":(\d+)')
# A read shorter than this (a frame or two: what a server that writes every frame on its
# own sends) is walked: for one frame the walk costs less than setting up the scan.
SCAN_FROM = 512
# First bytes of a ping and a close frame: a read with either byte in it is walked.
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


@dataclass
class Tally:
    """What one socket received: message seqs in arrival order, latencies, acks.

    While frames arrive only the bytes found are kept, with their read's receipt time
    (``received`` counts them); seqs and latencies are made from them when asked for, so
    that turning text into numbers does not compete with the servers during a burst."""

    received: int = 0
    acks: dict[str, int] = field(default_factory=dict)
    last_receipt: float = 0.0
    last_ack: float = 0.0
    # (receipt time, [(seq, send time or b"")]) per read
    found: list[tuple[float, list[tuple[bytes, bytes]]]] = field(default_factory=list)

    def add(self, now: float, found: list[tuple[bytes, bytes]]) -> None:
        self.found.append((now, found))
        self.received += len(found)
        self.last_receipt = now

    @property
    def seqs(self) -> list[int]:
        return [int(seq) for _, found in self.found for seq, _ in found]

    @property
    def latencies(self) -> list[float]:
        return [now - float(sent) for now, found in self.found for _, sent in found if sent]


def _field(payload: bytes, name: bytes, end: bytes) -> bytes | None:
    start = payload.find(name)
    if start < 0:
        return None
    start += len(name)
    return payload[start : payload.index(end, start)]


class LeanSocket(asyncio.Protocol):
    def __init__(self, request: bytes, key: bytes) -> None:
        self.request = request
        self.accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.buffer = bytearray()
        self.open = False
        self.close_sent = False
        self.tally = Tally()

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
        if self.buffer:  # the start of a frame cut off by the last read
            data = bytes(self.buffer) + data
            self.buffer.clear()
        if not self.open:
            self.buffer += data
            if not self._handshake():
                return
            data = bytes(self.buffer)
            self.buffer.clear()
        now = time.perf_counter()
        if len(data) >= SCAN_FROM and PING not in data and CLOSE not in data:
            end = self._text_frames_end(data)
            if end is not None:
                self._scan(data, end, now)
                if end < len(data):
                    self.buffer += data[end:]
                return
        self._walk(data, now)

    def _text_frames_end(self, data: bytes) -> int | None:
        """Where the whole frames in ``data`` end, if it holds only JSON text frames
        (it starts at a frame's first byte): what follows is the start of a frame cut off
        by the read. None if the read holds anything else."""
        last = data.rfind(FRAME_JSON)
        if last < 0:
            return 0 if len(data) < 10 and data[:1] in (b"", b"\x81") else None
        if last >= 4 and data[last - 4] == 0x81 and data[last - 3] == 126:
            start, length = last - 4, int.from_bytes(data[last - 2 : last], "big")
        elif last >= 2 and data[last - 2] == 0x81 and data[last - 1] < 126:
            start, length = last - 2, data[last - 1]
        else:
            return None
        end = last + length
        if end > len(data):
            return start  # the last frame is cut off
        rest = data[end:]
        if rest and (len(rest) >= 10 or rest[0] != 0x81):
            return None  # after the last JSON frame comes a whole frame of another kind
        return end

    def _scan(self, data: bytes, end: int, now: float) -> None:
        """Every message's seq and send time, and every ack, in whole frames up to ``end``."""
        tally = self.tally
        found = NEW_FIELDS.findall(data, 0, end)
        if found:
            tally.add(now, found)
        if MESSAGE_ACK in data:
            for client_id, seq in ACK_FIELDS.findall(data, 0, end):
                tally.acks[client_id.decode()] = int(seq)
                tally.last_ack = now

    def _walk(self, data: bytes, now: float) -> None:
        """Frame by frame: for a read with a control frame (or what might be one) in it."""
        found: list[tuple[bytes, bytes]] = []
        at, size = 0, len(data)
        # Frames are cut out of ``data`` by offset and searched in place (no copies).
        while size - at >= 2:
            first, length = data[at], data[at + 1] & 0x7F
            head = at + 2
            if length == 126:
                if size - at < 4:
                    break
                length, head = int.from_bytes(data[at + 2 : at + 4], "big"), at + 4
            elif length == 127:
                if size - at < 10:
                    break
                length, head = int.from_bytes(data[at + 2 : at + 10], "big"), at + 10
            end = head + length
            if end > size:
                break
            if first == 0x81:  # a whole text frame: all the servers send
                fields = NEW_FIELDS.match(data, head + TYPE_AT, end)
                if fields is not None:
                    found.append(fields.groups(b""))
                elif data.startswith(MESSAGE_ACK, head):
                    self._ack(data[head:end], now)
            else:
                self._control(first, data[head:end])
            at = end
        if found:
            self.tally.add(now, found)
        if at < size:
            self.buffer += data[at:]

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

    def _ack(self, payload: bytes, now: float) -> None:
        client_id, seq = _field(payload, b'"client_id":"', b'"'), _field(payload, b'"seq":', b",")
        if client_id is not None and seq is not None:
            self.tally.acks[client_id.decode()] = int(seq)
            self.tally.last_ack = now

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
