"""Clients for real server processes: websockets over TCP, speaking only the contract."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from tests.conftest import ServerProcess


async def connect(server: ServerProcess, path: str, cookie: str) -> ClientConnection:
    return await websockets.connect(
        f"{server.ws}{path}",
        additional_headers={"Cookie": cookie, "Origin": server.http},
        open_timeout=10,
    )


async def next_frame(ws: ClientConnection, timeout: float = 5) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return frame


async def wait_for(
    ws: ClientConnection, kind: str, timeout: float = 5, **match: Any
) -> dict[str, Any]:
    """The next frame of type ``kind`` (whose fields equal ``match``), skipping others."""
    async with asyncio.timeout(timeout):
        while True:
            frame = await next_frame(ws, timeout)
            if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
                return frame


async def quiet(ws: ClientConnection, kind: str, wait: float) -> bool:
    """True when no frame of type ``kind`` arrives within ``wait`` seconds."""
    try:
        await wait_for(ws, kind, timeout=wait)
    except TimeoutError:
        return True
    return False


async def send(ws: ClientConnection, frame: dict[str, Any]) -> None:
    await ws.send(json.dumps(frame))
