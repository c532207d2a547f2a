"""The message frame the hub makes once for every socket (chat.wire)."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from chat.wire import direct_writer, text_frame


def parse(data: bytes) -> tuple[Frame, bytes]:
    """Parse one frame as a client does (unmasked from the server); return it and the rest."""
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        frame: Frame = done.value
        return frame, bytes(reader.buffer)
    raise AssertionError("the frame was incomplete")


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 300_000])
def test_text_frames_parse_as_one_final_text_frame(size: int) -> None:
    text = ("é" * size)[:size] if size % 2 else "a" * size
    frame, rest = parse(text_frame(text))
    assert (frame.opcode, frame.fin, frame.rsv1) == (Opcode.TEXT, True, False)
    assert frame.data.decode("utf-8") == text
    assert rest == b""


def test_two_frames_back_to_back_stay_apart() -> None:
    first, rest = parse(text_frame('{"seq":1}') + text_frame('{"seq":2}'))
    second, tail = parse(rest)
    assert (first.data, second.data, tail) == (b'{"seq":1}', b'{"seq":2}', b"")


async def _any_send(message: dict[str, Any]) -> None:
    return None


def test_unknown_servers_get_no_direct_writer() -> None:
    """Anything but daphne's and uvicorn's own send (the test communicator, a wrapped send)
    goes through ASGI send as usual."""
    assert direct_writer(_any_send) is None
    assert direct_writer(functools.partial(_any_send)) is None
    assert direct_writer(object()) is None
