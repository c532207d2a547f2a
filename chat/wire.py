"""A room's message frame written straight to each socket's transport: framed once per
message per process, no task switch and no server framing per receiver.

Why: through an ASGI server's ``send`` every receiver of every message costs a task wake-up,
a chain of coroutines (Channels' session wrapper, the server's reply handler) and the
server's own WebSocket framing; in a room of 300 that is most of the server's time
(docs/performance.md). A server-to-client text frame is the same bytes for every receiver
(servers never mask), so the hub frames it once and a socket whose server lets us reach its
transport writes those bytes itself, in the same turn of the event loop.

Known servers: daphne (autobahn over a twisted transport) and uvicorn's default WebSocket
protocol (websockets' sans-I/O over an asyncio transport). Writing whole frames beside the
server's own is safe: each side writes complete frames synchronously, and uncompressed
frames are valid whatever the server negotiated (RFC 7692 section 6). With any other server,
before the handshake completes or once the socket is closing, frames go through ``send``.

Frames a socket is given in one turn of the event loop are joined and written once at the
end of the turn (in a burst, one system call per socket per turn, not one per frame); under
daphne, a plain TCP socket with nothing in twisted's buffers is sent to directly.

The transport's own buffer is bounded here (``CHAT_SOCKET_BUFFER`` bytes): a reader that
falls that far behind is closed as too slow, and its client resumes by seq.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import struct
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

SCOPE_KEY = "peersupport.direct_write"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Written(enum.Enum):
    DONE = "done"
    USE_SEND = "use_send"  # not open yet, or closing: the ordinary path decides
    TOO_SLOW = "too_slow"  # the transport holds more than the bound: close the socket


DirectWriter = Callable[[bytes, int], Written]


def text_frame(text: str) -> bytes:
    """One unmasked, final WebSocket text frame (RFC 6455 section 5.2)."""
    payload = text.encode("utf-8")
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    return header + payload


def _gathering(
    is_open: Callable[[], bool], backlog: Callable[[], int], emit: Callable[[bytes], None]
) -> DirectWriter:
    """A writer that joins the frames a socket is given in one turn of the event loop and
    writes them once, at the end of the turn (in a burst, one system call per socket per
    turn instead of one per frame). Whatever the server writes itself in a later turn
    comes after them; nothing is written once the socket is closing.

    The bound is on what earlier turns left unsent (``backlog``): a reader that keeps up
    takes each turn's frames, however many a burst brings at once. What one turn gathers
    is bounded by the hub, which passes on one read of Redis (or one publish) per turn."""
    pending: list[bytes] = []

    def flush() -> None:
        frames = b"".join(pending)
        pending.clear()
        if is_open():
            emit(frames)

    def write(frame: bytes, limit: int) -> Written:
        if not is_open():
            return Written.USE_SEND
        if backlog() > limit:
            return Written.TOO_SLOW
        if not pending:
            asyncio.get_running_loop().call_soon(flush)
        pending.append(frame)
        return Written.DONE

    return write


def _daphne_writer(send: Any) -> DirectWriter | None:
    # daphne hands each connection ``functools.partial(server.handle_reply, protocol)``.
    if not isinstance(send, functools.partial) or not send.args:
        return None
    try:
        from daphne.server import Server
        from twisted.internet.tcp import Server as PlainTCP
    except ImportError:
        return None
    owner = getattr(send.func, "__self__", None)
    if not isinstance(owner, Server) or send.func.__name__ != "handle_reply":
        return None
    protocol = send.args[0]

    def is_open() -> bool:
        return bool(protocol.state == protocol.STATE_OPEN and protocol.transport is not None)

    def backlog() -> int:
        # twisted keeps what the kernel did not take yet in these two buffers.
        transport = protocol.transport
        return len(getattr(transport, "dataBuffer", b"")) + getattr(transport, "_tempDataLen", 0)

    def emit(frames: bytes) -> None:
        transport = protocol.transport
        # A plain TCP socket with nothing left in twisted's buffers takes the bytes at once,
        # without twisted registering the socket for writing and back for this one send
        # (two epoll calls per socket per turn). Anything else (TLS, a backlog) goes
        # through twisted, which keeps it in order behind what it holds.
        if type(transport) is PlainTCP and transport.connected and not backlog():
            try:
                sent = transport.socket.send(frames)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                return  # the connection is gone; twisted sees it on its next read
            frames = frames[sent:]
        if frames:
            transport.write(frames)

    return _gathering(is_open, backlog, emit)


def _uvicorn_writer(send: Any) -> DirectWriter | None:
    # uvicorn's default WebSocket protocol hands over its own bound ``send``.
    try:
        from uvicorn.protocols.websockets.websockets_sansio_impl import (
            WebSocketsSansIOProtocol,
        )
    except ImportError:
        return None
    owner: Any = getattr(send, "__self__", None)
    if not isinstance(owner, WebSocketsSansIOProtocol):
        return None

    def is_open() -> bool:
        return bool(
            owner.handshake_complete and not owner.close_sent and not owner.transport.is_closing()
        )

    def backlog() -> int:
        return int(owner.transport.get_write_buffer_size())

    def emit(frames: bytes) -> None:
        owner.transport.write(frames)  # asyncio sends at once what the kernel takes

    return _gathering(is_open, backlog, emit)


def direct_writer(send: Any) -> DirectWriter | None:
    """A writer for the connection whose server ``send`` this is, or None."""
    return _daphne_writer(send) or _uvicorn_writer(send)


class DirectWriteMiddleware:
    """Outermost, so it sees the server's own ``send``: offers the consumer a direct
    writer in the scope (``SCOPE_KEY``) when the server is one we know."""

    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            writer = direct_writer(send)
            if writer is not None:
                scope = {**scope, SCOPE_KEY: writer}
        await self.inner(scope, receive, send)
