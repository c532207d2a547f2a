"""The load generator's fast read (bench/wsclient.py) counts what the frame walk counts.

A burst's reads are scanned with one regular expression instead of walked frame by frame;
if the product's frames changed shape (say, a field moved) the scan would miss messages and
the bench would report them lost. So the product's own frames are cut into reads at random
and the counts compared with the walk's, pings and acks included.
"""

from __future__ import annotations

import itertools
import random
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chat import events
from chat.models import Message
from chat.wire import text_frame
from rooms.models import User

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import wsclient


class Reader(wsclient.LeanSocket):
    """A socket past its handshake, with no transport: pongs are counted, not sent."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.open = True
        self.close_sent = False
        self.transport = None
        self.tally = wsclient.Tally()
        self.walked = (0, 0)
        self.written: list[bytes] = []

    def _write(self, frame: bytes) -> None:
        self.written.append(frame)


SENT = {seq: 1000.0 + seq / 7 for seq in range(1, 401)}


def _stream(count: int) -> tuple[bytes, list[int], dict[str, int], int]:
    """The product's frames for ``count`` messages, with an ack every 9th and a ping every
    40th; and what a reader must find: the seqs, the acks, the number of pings."""
    author = User(username="peer003", display_name="Peer 3 \u2600")
    parts, acks, pings = [], {}, 0
    for seq in range(1, count + 1):
        body = f"t={SENT[seq]} burst" if seq % 5 else "no send time in this one"
        message = Message(
            author=author, seq=seq, client_id=f"c-{seq}", body=body, sent_at=datetime.now(UTC)
        )
        parts.append(text_frame(events.encode(events.message_new(message, role="participant"))))
        if seq % 9 == 0:
            parts.append(text_frame(events.encode(events.message_ack(message))))
            acks[f"c-{seq}"] = seq
        if seq % 40 == 0:
            parts.append(b"\x89\x04ping")
            pings += 1
    return b"".join(parts), list(range(1, count + 1)), acks, pings


def test_the_product_frames_match_the_fields() -> None:
    stream, _, _, _ = _stream(3)
    found = wsclient.NEW_FIELDS.findall(stream)
    assert [seq for seq, _ in found] == [b"1", b"2", b"3"]
    assert found[0][1] == str(SENT[1]).encode()


@pytest.mark.parametrize("seed", range(20))
def test_reads_cut_anywhere_give_every_message_ack_and_pong(seed: int) -> None:
    stream, seqs, acks, pings = _stream(400)
    rng = random.Random(seed)
    reader, at = Reader(), 0
    while at < len(stream):
        size = rng.choice([1, 2, 3, 7, 19, 100, 300, 1500, 9000])
        reader.data_received(stream[at : at + size])
        at += size
    assert reader.tally.received == 400
    assert reader.tally.seqs == seqs
    assert reader.tally.acks == acks
    assert len(reader.tally.latencies) == 320  # every message with a send time in its body
    assert len(reader.written) == pings  # every ping answered, as it came


def test_each_message_gets_the_time_of_the_read_that_completed_it() -> None:
    stream, _, _, _ = _stream(30)
    tally, cuts = wsclient.Tally(), [*range(0, len(stream), 250), len(stream)]
    for n, (start, end) in enumerate(itertools.pairwise(cuts)):
        tally.feed(stream[start:end], 5000.0 + n)
    ends = [
        end
        for first, head, end in wsclient.frames(stream)
        if first == 0x81 and wsclient.NEW_FIELDS.match(stream, head + wsclient.TYPE_AT, end)
    ]
    expected = [
        5000.0 + (end - 1) // 250 - SENT[seq]
        for seq, end in zip(range(1, 31), ends, strict=True)
        if seq % 5
    ]
    assert tally.latencies == pytest.approx(expected)
