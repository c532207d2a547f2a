"""The audit log: append-only, hash-chained, verifiable."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from moderation.audit import AuditEvent, audit_record, audit_verify
from tests.conftest import World

pytestmark = pytest.mark.django_db


def _record_some(world: World, n: int = 5) -> None:
    for i in range(n):
        audit_record(actor=world.fran, action="message.hidden", target_type="message", target_id=i)


def test_the_chain_holds_and_the_command_says_so(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    _record_some(world)
    report = audit_verify()
    assert report.holds
    assert report.checked == 5
    call_command("verify_audit")
    assert "holds: 5 events" in capsys.readouterr().out


def test_events_link_to_the_one_before(world: World) -> None:
    _record_some(world, 3)
    events = list(AuditEvent.objects.order_by("number"))
    assert [e.number for e in events] == [1, 2, 3]
    assert events[1].prev_hash == events[0].hash
    assert events[2].prev_hash == events[1].hash
    assert events[0].actor_username == "fran"
    assert events[0].actor_role == "facilitator"


def test_the_orm_refuses_changes(world: World) -> None:
    _record_some(world, 1)
    event = AuditEvent.objects.get()
    event.action = "something.else"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()


def test_the_database_refuses_changes(world: World) -> None:
    """On PostgreSQL a trigger refuses UPDATE and DELETE, whatever the client."""
    assert connection.vendor == "postgresql"
    _record_some(world, 1)
    for statement in (
        "UPDATE moderation_auditevent SET action = 'x'",
        "DELETE FROM moderation_auditevent",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement)


def _tamper(sql: str) -> None:
    with connection.cursor() as cursor:
        # What a database superuser could do behind the application's back.
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(sql)
        cursor.execute("SET session_replication_role = origin")


@pytest.mark.parametrize(
    ("sql", "broken_at", "reason"),
    [
        ("UPDATE moderation_auditevent SET target_id = '99' WHERE number = 3", 3, "changed"),
        ("DELETE FROM moderation_auditevent WHERE number = 2", 2, "missing"),
        ("DELETE FROM moderation_auditevent WHERE number = 5", 5, "missing"),
        (
            "UPDATE moderation_auditevent SET prev_hash = repeat('a', 64) WHERE number = 4",
            4,
            "link",
        ),
    ],
)
def test_tampering_is_found_at_the_first_broken_link(
    world: World, sql: str, broken_at: int, reason: str
) -> None:
    _record_some(world)
    _tamper(sql)
    report = audit_verify()
    assert not report.holds
    assert report.first_broken == broken_at
    assert reason in report.reason
    with pytest.raises(CommandError, match=f"#{broken_at}"):
        call_command("verify_audit")


def test_no_message_text_in_the_log(world: World) -> None:
    from chat.services import message_post
    from moderation.tools import message_hide
    from rooms.access import access_room

    secret = "a very private sentence about my week"
    message_post(
        access=access_room(user=world.alex, slug="evening-circle"), client_id="1", body=secret
    )
    message_hide(actor=world.fran, slug="evening-circle", seq=1)
    dump = " ".join(str(e.details) + e.target_id + e.action for e in AuditEvent.objects.all())
    assert "message.hidden" in dump
    assert "private sentence" not in dump
