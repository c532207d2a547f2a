"""Writes for moderation: flags, escalations and their ladder, peer reports, verdicts.

Every function here runs inside the caller's transaction (or opens one), records what it
changed in the audit log, and returns an ``Outbox`` of frames to send after commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chat.events import Outbox, room_control, room_group, staff_event
from chat.models import Message, MessageStatus
from moderation import events
from moderation.audit import audit_record
from moderation.models import (
    CrisisLine,
    Escalation,
    EscalationState,
    Flag,
    FlagSource,
    FlagState,
    StaffConnection,
    Verdict,
)
from moderation.policy import Decision
from moderation.screening import Screening
from rooms.access import AccessDenied, Refusal, RoomAccess, access_room, check_may_moderate
from rooms.models import Room, User

PRESENCE_SECONDS = 90


class ModerationRefused(Refusal):
    pass


def oncall_online(now: datetime | None = None) -> bool:
    since = (now or timezone.now()) - timedelta(seconds=PRESENCE_SECONDS)
    return StaffConnection.objects.filter(oncall=True, last_seen__gte=since).exists()


def crisis_lines() -> list[CrisisLine]:
    return list(
        CrisisLine.objects.filter(active=True, locale__in=[settings.CRISIS_LINES_LOCALE, "intl"])
    )


def _ack_deadline(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.ESCALATION_ACK_SECONDS)


def flag_screened_message(
    *,
    message: Message,
    screening: Screening,
    decision: Decision,
    source: FlagSource | None = None,
) -> Outbox:
    """Record the flag (and escalation) for a screened message; call inside its transaction."""
    outbox = Outbox()
    if not decision.flag:
        return outbox
    room = message.room
    flag = Flag.objects.create(
        room=room,
        message=message,
        level=decision.level,
        categories=screening.categories,
        evidence=screening.evidence,
        source=source or (FlagSource.DETECTOR_FAILURE if screening.failed else FlagSource.DETECTOR),
        held=decision.hold,
    )
    online = oncall_online()
    if decision.escalate:
        now = timezone.now()
        escalation = Escalation.objects.create(
            flag=flag,
            room=room,
            level=decision.level,
            categories=screening.categories,
            deadline=_ack_deadline(now),
            created_at=now,
        )
        audit_record(
            actor=None,
            action="escalation.opened",
            target_type="escalation",
            target_id=escalation.pk,
            details={"room": room.slug, "level": decision.level, "flag": flag.pk, "tier": 1},
        )
        outbox.groups.append((events.ONCALL_GROUP, staff_event(events.escalation_new(escalation))))
        if not online:
            outbox.groups.append(
                (
                    events.staff_room_group(room.pk),
                    staff_event(events.oncall_unavailable(escalation)),
                )
            )
    outbox.groups.append(
        (events.staff_room_group(room.pk), staff_event(events.flag_new(flag, oncall_online=online)))
    )
    if decision.resources:
        outbox.sender.append(
            events.support_resources(
                level=decision.level,
                locale=settings.CRISIS_LINES_LOCALE,
                held=decision.hold,
                lines=crisis_lines(),
            )
        )
    if decision.hold:
        outbox.sender.append(
            {
                "type": "message.held",
                "seq": message.seq,
                "client_id": message.client_id,
                "detail": "Your message was shared with your facilitator, who will read it "
                "soon, rather than with the whole group.",
            }
        )
    return outbox


def message_report(*, access: RoomAccess, seq: int, reason: str) -> Outbox:
    """A peer flags a message they can see; the room's leaders are told at once."""
    message = (
        Message.objects.select_related("author", "room")
        .filter(room=access.room, seq=seq, status=MessageStatus.DELIVERED)
        .first()
    )
    if message is None:
        raise ModerationRefused("not_found", "There is no message to report at that position.")
    if message.author_id == access.user.pk:
        raise ModerationRefused("invalid_field", "You cannot report your own message.")
    with transaction.atomic():
        flag = Flag.objects.create(
            room=access.room,
            message=message,
            level="watch",
            categories=[],
            evidence=[],
            source=FlagSource.PEER_REPORT,
            reporter=access.user,
            reason=reason.strip()[:500],
        )
    outbox = Outbox()
    outbox.groups.append(
        (events.staff_room_group(access.room.pk), staff_event(events.flag_new(flag)))
    )
    outbox.sender.append(
        {
            "type": "report.received",
            "seq": seq,
            "flag_id": flag.pk,
            "detail": "Thank you. A facilitator will look at it; you will hear when it is handled.",
        }
    )
    return outbox


# Escalations ---------------------------------------------------------------------------


def _may_handle_escalation(actor: User, escalation: Escalation) -> None:
    if actor.is_oncall:
        return
    try:
        _check_leads(actor, escalation.room)
    except AccessDenied:
        raise AccessDenied(
            "forbidden", "Only on-call staff or this room's leader may do that."
        ) from None


def _escalation_for_update(escalation_id: int) -> Escalation:
    escalation = (
        Escalation.objects.select_for_update(of=("self",))
        .select_related("room", "flag", "flag__message", "acknowledged_by", "resolved_by")
        .filter(pk=escalation_id)
        .first()
    )
    if escalation is None:
        raise ModerationRefused("not_found", "No such escalation.")
    return escalation


def _broadcast_escalation(escalation: Escalation, *, overdue: bool = False) -> Outbox:
    frame = staff_event(events.escalation_updated(escalation, overdue=overdue))
    return Outbox(
        groups=[
            (events.ONCALL_GROUP, frame),
            (events.staff_room_group(escalation.room_id), frame),
        ]
    )


def escalation_acknowledge(*, actor: User, escalation_id: int) -> Outbox:
    with transaction.atomic():
        escalation = _escalation_for_update(escalation_id)
        _may_handle_escalation(actor, escalation)
        if escalation.state != EscalationState.OPEN:
            # Someone else got there first: say so, change nothing.
            raise ModerationRefused(
                "already_" + escalation.state, f"This escalation is already {escalation.state}."
            )
        escalation.state = EscalationState.ACKNOWLEDGED
        escalation.acknowledged_by = actor
        escalation.acknowledged_at = timezone.now()
        escalation.save(update_fields=["state", "acknowledged_by", "acknowledged_at"])
        audit_record(
            actor=actor,
            action="escalation.acknowledged",
            target_type="escalation",
            target_id=escalation.pk,
            details={"tier": escalation.tier},
        )
    return _broadcast_escalation(escalation)


def escalation_resolve(*, actor: User, escalation_id: int, note: str) -> Outbox:
    note = note.strip()
    if not note:
        raise ModerationRefused(
            "missing_field", "Please write a short note on how it was resolved."
        )
    with transaction.atomic():
        escalation = _escalation_for_update(escalation_id)
        _may_handle_escalation(actor, escalation)
        if escalation.state == EscalationState.RESOLVED:
            raise ModerationRefused("already_resolved", "This escalation is already resolved.")
        now = timezone.now()
        if escalation.acknowledged_by is None:
            escalation.acknowledged_by = actor
            escalation.acknowledged_at = now
        escalation.state = EscalationState.RESOLVED
        escalation.resolved_by = actor
        escalation.resolved_at = now
        escalation.resolution_note = note[:4000]
        escalation.save()
        Flag.objects.filter(pk=escalation.flag_id).update(state=FlagState.HANDLED, handled_at=now)
        # The note stays in the escalation row; the audit event says that it was written.
        audit_record(
            actor=actor,
            action="escalation.resolved",
            target_type="escalation",
            target_id=escalation.pk,
            details={"tier": escalation.tier, "note_chars": len(note)},
        )
    return _broadcast_escalation(escalation)


def ladder_tick(*, now: datetime | None = None, batch: int = 100) -> Outbox:
    """Re-notify every escalation whose deadline has passed unacknowledged.

    Rows are taken with SKIP LOCKED, so two workers never page the same escalation twice in
    one period: the first moves its deadline on, the second skips it while it is locked and
    finds it no longer due afterwards.
    """
    moment = now or timezone.now()
    outbox = Outbox()
    with transaction.atomic():
        due = list(
            Escalation.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("room", "acknowledged_by", "resolved_by")
            .filter(state=EscalationState.OPEN, deadline__lte=moment)
            .order_by("deadline")[:batch]
        )
        if not due:
            return outbox
        online = oncall_online(moment)
        for escalation in due:
            escalation.tier += 1
            escalation.deadline = _ack_deadline(moment)
            escalation.save(update_fields=["tier", "deadline"])
            audit_record(
                actor=None,
                action="escalation.overdue",
                target_type="escalation",
                target_id=escalation.pk,
                details={"tier": escalation.tier, "oncall_online": online},
            )
            outbox.extend(_broadcast_escalation(escalation, overdue=True))
            if not online:
                outbox.groups.append(
                    (
                        events.staff_room_group(escalation.room_id),
                        staff_event(events.oncall_unavailable(escalation)),
                    )
                )
    return outbox


# Flags ----------------------------------------------------------------------------------


def flag_verdict(*, actor: User, flag_id: int, verdict: str) -> Outbox:
    """Staff mark a flag confirmed or a false alarm; the lexicon learns from these."""
    if verdict not in (Verdict.CONFIRMED, Verdict.FALSE_ALARM):
        raise ModerationRefused("invalid_field", "verdict must be 'confirmed' or 'false_alarm'.")
    with transaction.atomic():
        flag = (
            Flag.objects.select_for_update(of=("self",))
            .select_related("room", "message")
            .filter(pk=flag_id)
            .first()
        )
        if flag is None:
            raise ModerationRefused("not_found", "No such flag.")
        _check_leads(actor, flag.room)
        flag.verdict = verdict
        flag.verdict_by = actor
        flag.state = FlagState.HANDLED
        flag.handled_at = timezone.now()
        flag.save(update_fields=["verdict", "verdict_by", "state", "handled_at"])
        audit_record(
            actor=actor,
            action="flag.verdict",
            target_type="flag",
            target_id=flag.pk,
            details={"verdict": verdict, "level": flag.level, "source": flag.source},
        )
    outbox = Outbox(
        groups=[(events.staff_room_group(flag.room_id), staff_event(events.flag_updated(flag)))]
    )
    outbox.extend(report_handled(flag))
    return outbox


def report_handled(flag: Flag) -> Outbox:
    """Tell the peer who reported a message that it was handled."""
    if flag.source != FlagSource.PEER_REPORT or flag.reporter_id is None:
        return Outbox()
    frame = {
        "type": "report.handled",
        "seq": flag.message.seq,
        "flag_id": flag.pk,
        "detail": "A facilitator has looked at the message you reported. Thank you for caring.",
    }
    return Outbox(
        groups=[(room_group(flag.room_id), room_control(frame, user_id=flag.reporter_id))]
    )


def _check_leads(actor: User, room: Room) -> None:
    check_may_moderate(access_room(user=actor, slug=room.slug))
