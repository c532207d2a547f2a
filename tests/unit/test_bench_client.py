"""The load generator's fast read (bench/wsclient.py) counts what the frame walk counts.

A burst's reads are scanned with one regular expression instead of walked frame by frame;
if the product's frames changed shape (say, a field moved) the scan would miss messages and
the bench would report them lost. So the product's own frames are cut into reads at random
and the counts compared with the walk's, pings and acks included.
"""

from __future__ import annotations

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
        self.written: list[bytes] = []

    def _write(self, frame: bytes) -> None:
        self.written.append(frame)


def _stream(count: int) -> bytes:
    author = User(username="peer003", display_name="Peer 3 ☀")
    parts = []
    for seq in range(1, count + 1):
        body = f"t={1000.0 + seq / 7} burst" if seq % 5 else "no send time in this one"
        message = Message(
            author=author, seq=seq, client_id=f"c-{seq}", body=body, sent_at=datetime.now(UTC)
        )
        parts.append(text_frame(events.encode(events.message_new(message, role="participant"))))
        if seq % 9 == 0:
            parts.append(text_frame(events.encode(events.message_ack(message))))
        if seq % 40 == 0:
            parts.append(b"\x89\x04ping")
    return b"".join(parts)


def test_the_product_frames_match_the_scan() -> None:
    stream = _stream(3)
    found = wsclient.NEW_FIELDS.findall(stream)
    assert [seq for seq, _ in found] == [b"1", b"2", b"3"]
    assert found[0][1] == str(1000.0 + 1 / 7).encode()


@pytest.mark.parametrize("seed", range(20))
def test_reads_cut_anywhere_count_what_the_walk_counts(seed: int) -> None:
    stream = _stream(400)
    walked = Reader()
    walked._walk(stream, 0.0)
    assert len(walked.tally.seqs) == 400
    assert len(walked.written) == 10

    rng = random.Random(seed)
    scanned, at = Reader(), 0
    while at < len(stream):
        size = rng.choice([1, 2, 3, 7, 100, 300, 1500, 9000])
        scanned.data_received(stream[at : at + size])
        at += size
    assert scanned.tally.seqs == walked.tally.seqs
    assert scanned.tally.acks == walked.tally.acks
    assert len(scanned.tally.latencies) == len(walked.tally.latencies) == 320
    assert len(scanned.written) == len(walked.written)  # every ping answered (masks differ)
    assert not scanned.buffer
