"""Idle and half-open connections are closed by ping timeouts (here shortened to seconds)."""

from __future__ import annotations

import base64
import os
import socket
import time
from collections.abc import Callable

import pytest

from tests.conftest import ServerProcess, World

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_client_that_stops_answering_pings_is_closed(
    world: World, cookies: dict[str, str], start_daphne: Callable[..., ServerProcess]
) -> None:
    server = start_daphne("--ping-interval", "1", "--ping-timeout", "2")
    # A raw TCP client: it completes the handshake, then never reads or answers a ping,
    # like a phone that dropped off the network without closing its connection.
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            "GET /ws/rooms/evening-circle/ HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{server.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {server.http}\r\nCookie: {cookies['alex']}\r\n\r\n"
        ).encode()
    )
    assert b" 101 " in sock.recv(4096).split(b"\r\n", 1)[0]
    started = time.monotonic()
    # Read only to notice the server hanging up (pings arrive too, and are ignored).
    sock.settimeout(1)
    closed_after = None
    while time.monotonic() - started < 20:
        try:
            if sock.recv(65536) == b"":
                closed_after = time.monotonic() - started
                break
        except TimeoutError:
            continue
        except ConnectionResetError:
            closed_after = time.monotonic() - started
            break
    sock.close()
    assert closed_after is not None, "the server kept a silent connection open"
    assert closed_after < 10
