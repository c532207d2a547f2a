"""The room hub's wire format: every event survives the round trip, text untouched."""

from __future__ import annotations

import pytest

from chat.hub import HubEvent, decode, encode_control, encode_message, encode_skip


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
