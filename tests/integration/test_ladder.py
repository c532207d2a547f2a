"""The escalation ladder with a controllable clock (ladder_tick(now=...))."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from chat.models import Message
from moderation.audit import AuditEvent
from moderation.models import Escalation, EscalationState, Flag, FlagSource, StaffConnection
from moderation.services import escalation_acknowledge, escalation_resolve, ladder_tick
from tests.conftest import World, at_once

pytestmark = pytest.mark.django_db


def _escalation(world: World, *, seconds_left: int = 120) -> Escalation:
    now = timezone.now()
    message = Message.objects.create(
        room=world.circle, author=world.alex, seq=1, client_id="e", body="(test)", status="held"
    )
    flag = Flag.objects.create(
        room=world.circle,
        message=message,
        level="imminent",
        categories=["suicide"],
        source=FlagSource.DETECTOR,
    )
    return Escalation.objects.create(
        flag=flag,
        room=world.circle,
        level="imminent",
        categories=["suicide"],
        deadline=now + timedelta(seconds=seconds_left),
    )


def _overdue_frames(outbox: object) -> list[str]:
    return [event["text"] for group, event in outbox.groups if group == "staff.oncall"]  # type: ignore[attr-defined]


def test_nothing_happens_before_the_deadline(world: World) -> None:
    escalation = _escalation(world)
    assert ladder_tick(now=timezone.now()).groups == []
    escalation.refresh_from_db()
    assert escalation.tier == 1


def test_overdue_escalations_climb_a_tier_each_period(world: World, settings: object) -> None:
    settings.ESCALATION_ACK_SECONDS = 120  # type: ignore[attr-defined]
    escalation = _escalation(world, seconds_left=120)
    start = timezone.now()
    first = ladder_tick(now=start + timedelta(seconds=121))
    assert len(_overdue_frames(first)) == 1
    assert '"overdue":true' in _overdue_frames(first)[0]
    assert '"tier":2' in _overdue_frames(first)[0]
    # Within the next period nothing more is sent.
    assert ladder_tick(now=start + timedelta(seconds=200)).groups == []
    second = ladder_tick(now=start + timedelta(seconds=242))
    assert '"tier":3' in _overdue_frames(second)[0]
    escalation.refresh_from_db()
    assert escalation.tier == 3
    actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert actions == ["escalation.overdue", "escalation.overdue"]


def test_acknowledged_escalations_stop_climbing(world: World) -> None:
    escalation = _escalation(world, seconds_left=1)
    escalation_acknowledge(actor=world.casey, escalation_id=escalation.pk)
    assert ladder_tick(now=timezone.now() + timedelta(hours=1)).groups == []
    escalation.refresh_from_db()
    assert escalation.state == EscalationState.ACKNOWLEDGED
    assert escalation.acknowledged_by == world.casey


def test_facilitators_are_told_when_no_oncall_is_online(world: World) -> None:
    _escalation(world, seconds_left=0)
    outbox = ladder_tick(now=timezone.now() + timedelta(seconds=1))
    texts = [
        event["text"] for group, event in outbox.groups if group == f"staff.room.{world.circle.pk}"
    ]
    assert any('"oncall.unavailable"' in t for t in texts)
    later = timezone.now() + timedelta(hours=1)
    StaffConnection.objects.create(channel_name="x", user=world.casey, oncall=True, last_seen=later)
    outbox = ladder_tick(now=later)
    texts = [
        event["text"] for group, event in outbox.groups if group == f"staff.room.{world.circle.pk}"
    ]
    assert not any('"oncall.unavailable"' in t for t in texts)


@pytest.mark.django_db(transaction=True)
def test_two_workers_never_page_twice_in_one_period(world: World) -> None:
    """Both tick at once: each due escalation is re-sent by exactly one of them."""
    for n in range(10):
        _escalation_n(world, n)
    now = timezone.now() + timedelta(seconds=5)
    sent: list[int] = []

    def worker(_: int) -> None:
        sent.append(len(_overdue_frames(ladder_tick(now=now))))

    at_once(worker, 2, timeout=30)
    assert sum(sent) == 10
    assert set(Escalation.objects.values_list("tier", flat=True)) == {2}
    assert AuditEvent.objects.filter(action="escalation.overdue").count() == 10


def _escalation_n(world: World, n: int) -> None:
    message = Message.objects.create(
        room=world.circle,
        author=world.alex,
        seq=n + 1,
        client_id=f"e{n}",
        body="(test)",
        status="held",
    )
    flag = Flag.objects.create(
        room=world.circle, message=message, level="imminent", source=FlagSource.DETECTOR
    )
    Escalation.objects.create(
        flag=flag, room=world.circle, level="imminent", deadline=timezone.now()
    )


def test_acknowledge_and_resolve_rules(world: World) -> None:
    escalation = _escalation(world)
    from rooms.access import AccessDenied

    with pytest.raises(AccessDenied):
        escalation_acknowledge(actor=world.alex, escalation_id=escalation.pk)
    with pytest.raises(AccessDenied):
        escalation_acknowledge(actor=world.morgan, escalation_id=escalation.pk)  # not their room
    escalation_acknowledge(actor=world.fran, escalation_id=escalation.pk)  # the room's facilitator
    from moderation.services import ModerationRefused

    with pytest.raises(ModerationRefused) as refused:
        escalation_acknowledge(actor=world.casey, escalation_id=escalation.pk)
    assert refused.value.code == "already_acknowledged"
    with pytest.raises(ModerationRefused):
        escalation_resolve(actor=world.casey, escalation_id=escalation.pk, note="  ")
    escalation_resolve(
        actor=world.casey, escalation_id=escalation.pk, note="Spoke with them; safe."
    )
    escalation.refresh_from_db()
    assert escalation.state == EscalationState.RESOLVED
    assert escalation.resolution_note == "Spoke with them; safe."
    assert escalation.flag.state == "handled"
    assert list(AuditEvent.objects.values_list("action", "actor_username")) == [
        ("escalation.acknowledged", "fran"),
        ("escalation.resolved", "casey"),
    ]
