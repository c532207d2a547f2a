"""Hostile input: generated frames never crash a consumer, always get an error frame (or,
when they happen to be a valid message, an ack), and refused frames change nothing."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from channels.db import database_sync_to_async
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from chat.models import Message
from chat.protocol import ProtocolError, parse_client_frame
from tests.conftest import World
from tests.sockets import close_all, open_room, recv, say, send

pytestmark = pytest.mark.django_db(transaction=True)

# Any character at all, lone surrogates and controls included.
anything = st.text(st.characters(codec=None, categories=None), max_size=300)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False)
    | anything,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(anything, inner, max_size=4),
    max_leaves=12,
)
types = st.sampled_from(
    ["message.send", "resume", "message.report", "message.delete", "", "x" * 500]
)
fields = st.sampled_from(["type", "client_id", "body", "after_seq", "seq", "reason", "extra"])
shaped = st.dictionaries(fields, json_values, max_size=5).flatmap(
    lambda d: types.map(lambda t: {**d, "type": t} if d.get("type") is None else d)
)
frames = st.one_of(
    anything,
    json_values.map(lambda v: json.dumps(v, ensure_ascii=False)),
    shaped.map(lambda v: json.dumps(v, ensure_ascii=False)),
    st.integers(min_value=1, max_value=20_000).map(lambda d: "[" * d + "]" * d),
    st.integers(min_value=1, max_value=20_000).map(lambda d: '{"a":' * d + "1" + "}" * d),
)


@hypothesis_settings(max_examples=10_000, deadline=None)
@given(frames)
def test_the_parser_answers_every_text_with_a_frame_or_a_protocol_error(text: str) -> None:
    try:
        parse_client_frame(text, max_body=4000)
    except ProtocolError as error:
        refused = error
    else:
        return
    assert refused.code
    assert refused.detail


@pytest.fixture
def no_rate_limit(settings: Any) -> None:
    # Once per test, not once per generated case: each override nests Django's settings, and
    # 10,000 of them exceed the recursion limit.
    settings.CHAT_RATE_LIMIT = 0


@hypothesis_settings(
    # 400 in every run of the suite; the long run (docs/reliability.md) sets 10,000.
    max_examples=int(os.environ.get("HOSTILE_CONSUMER_CASES", "400")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=frames)
async def test_the_consumer_survives_generated_frames(
    world: World, cookies: dict[str, str], no_rate_limit: None, text: str
) -> None:
    alex = await open_room("evening-circle", cookies["alex"])
    before = await database_sync_to_async(Message.objects.count)()
    await send(alex, text)
    answer: dict[str, Any] = await recv(alex)
    if answer["type"] == "error":
        assert answer["code"] != "server_error", answer
        assert await database_sync_to_async(Message.objects.count)() == before
    else:
        assert answer["type"] in {"message.ack", "resume.done", "message.new", "report.received"}
    # The connection is still open and works.
    assert (await say(alex, f"still-{before}-{len(text)}", "still here"))["type"] == "message.ack"
    await close_all(alex)


@pytest.mark.parametrize(
    "body",
    [
        '<script>alert("x")</script>',
        "hi <img src=x onerror=alert(1)>",
        "zero\u200bwidth\u200cjoiners\u200d",
        "right-to-left \u202eoverride\u202c",
        "\u2066isolate\u2069",
    ],
)
async def test_hostile_bodies_arrive_as_inert_text(
    world: World, cookies: dict[str, str], body: str
) -> None:
    alex = await open_room("evening-circle", cookies["alex"])
    sam = await open_room("evening-circle", cookies["sam"])
    await say(alex, "h", body)
    received = (await recv(sam))["body"]
    assert "<" not in received
    assert not any(c in received for c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    await close_all(alex, sam)
