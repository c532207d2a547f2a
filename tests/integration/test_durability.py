"""A database failure during a send never yields an ack for an unstored message, nor a
delivery of one: the failure is injected at COMMIT, the last possible moment."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.db import connection

from chat.models import Message
from rooms.models import Room
from tests.conftest import World
from tests.sockets import close_all, nothing_more, open_room, recv, say

pytestmark = pytest.mark.django_db(transaction=True)

FAIL_AT_COMMIT = """
CREATE OR REPLACE FUNCTION test_fail_at_commit() RETURNS trigger AS $$
BEGIN
  IF NEW.body = 'this one fails at commit' THEN
    RAISE EXCEPTION 'injected failure at commit';
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE CONSTRAINT TRIGGER test_fail_at_commit AFTER INSERT ON chat_message
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_fail_at_commit();
"""


@pytest.fixture
def failing_commits(transactional_db: None) -> object:
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute(FAIL_AT_COMMIT)
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS test_fail_at_commit ON chat_message")


async def test_a_failed_commit_is_never_acknowledged_nor_delivered(
    failing_commits: object, world: World, cookies: dict[str, str]
) -> None:
    alex = await open_room("evening-circle", cookies["alex"])
    sam = await open_room("evening-circle", cookies["sam"])
    answer = await say(alex, "doomed", "this one fails at commit")
    assert answer["type"] == "error"
    assert answer["code"] == "server_error"
    assert answer["client_id"] == "doomed"
    assert await nothing_more(sam)
    assert not await database_sync_to_async(Message.objects.filter(client_id="doomed").exists)()
    last_seq = Room.objects.values_list("last_seq", flat=True)
    assert await database_sync_to_async(last_seq.get)(slug="evening-circle") == 0
    # The same socket goes on, and the next message takes seq 1: no gap was left.
    assert (await say(alex, "fine", "this one is fine"))["seq"] == 1
    assert (await recv(sam))["seq"] == 1
    await close_all(alex, sam)
