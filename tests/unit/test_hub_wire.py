"""The room hub's wire format: every event survives the round trip, text untouched."""

from __future__ import annotations

import pytest

from chat.hub import HubEvent, decode, encode_control, encode_message, encode_skip
from chat.wire import text_frame


@pytest.mark.parametrize(
    ("wire", "event"),
    [
        (encode_message(7, '{"a":"x|y|z"}'), HubEvent("m", seq=7, text='{"a":"x|y|z"}')),
        (encode_skip(8), HubEvent("s", seq=8)),
        (encode_control("{}", user_id=None, close=False), HubEvent("c", text="{}")),
        (
            encode_control("{|}", user_id=42, close=True),
            HubEvent("c", text="{|}", user_id=42, close=True),
        ),
        ("y|99|", HubEvent("y", seq=99)),
    ],
)
def test_round_trip(wire: str, event: HubEvent) -> None:
    assert decode(wire) == event


def test_a_message_event_carries_its_frame_made_once() -> None:
    """The frame every socket of the process may write as it is (chat.wire)."""
    text = '{"type":"message.new","seq":7}'
    assert decode(encode_message(7, text)).frame == text_frame(text)
    assert decode(encode_skip(8)).frame == b""


class Recorder:
    def __init__(self, last_seq: int = 0) -> None:
        self.seqs: list[int] = []
        self.last_seq = last_seq

    def offer(self, event: HubEvent) -> None:
        self.seqs.append(event.seq)


async def test_crossed_publishes_are_put_back_in_order() -> None:
    from chat.hub import RoomHub

    hub = RoomHub("", "t")
    socket = Recorder()
    hub.local[1] = {socket}
    for seq in (1, 3, 4, 2, 6, 5):
        hub.dispatch(1, encode_message(seq, "{}") if seq != 4 else encode_skip(seq))
    assert socket.seqs == [1, 2, 3, 4, 5, 6]


async def test_a_first_event_that_overtook_another_waits_for_it() -> None:
    """The room's order starts from where its sockets stand, not from the first event."""
    from chat.hub import RoomHub

    hub = RoomHub("", "t")
    socket = Recorder(last_seq=10)
    hub.local[1] = {socket}
    hub.dispatch(1, encode_message(12, "{}"))
    assert socket.seqs == []
    hub.dispatch(1, encode_message(11, "{}"))
    assert socket.seqs == [11, 12]


async def test_a_gap_the_hub_cannot_read_is_passed_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """If the database cannot be read, what waited goes on; each socket fills its gap."""
    import asyncio

    from chat import hub as hub_module

    def unreadable(room_id: int, seqs: list[int]) -> list[tuple[int, str]]:
        raise ConnectionError("database away")

    monkeypatch.setattr(hub_module, "REORDER_SECONDS", 0.01)
    monkeypatch.setattr(hub_module, "_wires_for", unreadable)
    hub = hub_module.RoomHub("", "t")
    socket = Recorder()
    hub.local[1] = {socket}
    hub.dispatch(1, encode_message(1, "{}"))
    hub.dispatch(1, encode_message(3, "{}"))
    hub.dispatch(1, encode_message(4, "{}"))
    assert socket.seqs == [1]
    await asyncio.sleep(0.05)
    assert socket.seqs == [1, 3, 4]
    hub.dispatch(1, encode_message(2, "{}"))  # late after all: passed on, sockets drop it
    assert socket.seqs == [1, 3, 4, 2]
