"""Frames for staff sockets and moderation notices, and the groups they go to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chat.events import Frame
from chat.models import Message, MessageStatus
from moderation.models import CrisisLine, Escalation, Flag, Playbook, PlaybookKind
from rooms.models import MemberRole, Membership, Room

ONCALL_GROUP = "staff.oncall"
EXCERPT_CHARS = 280
# How many of the person's own earlier messages an escalation carries as context.
CONTEXT_MESSAGES = 3

# Which playbook answers which category of risk.
PLAYBOOK_FOR = {
    "suicide": PlaybookKind.RISK_TO_SELF,
    "self_harm": PlaybookKind.RISK_TO_SELF,
    "distress": PlaybookKind.RISK_TO_SELF,
    "harm_to_others": PlaybookKind.HARM_TO_OTHERS,
    "abuse": PlaybookKind.ABUSE,
    "substance": PlaybookKind.SUBSTANCE,
}
HEADLINES = {
    "abuse": "Abuse disclosure: a safeguarding response is needed, not only support.",
    "harm_to_others": "Risk of harm to someone else: a safeguarding response is needed.",
    "substance": "Possible substance emergency: check whether medical help is needed now.",
}


def staff_room_group(room_id: int) -> str:
    return f"staff.room.{room_id}"


def _excerpt(text: str) -> str:
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


def routing(categories: list[str]) -> dict[str, Any]:
    """Playbooks for these categories, and a plain headline when safeguarding applies."""
    kinds = []
    for category in categories:
        kind = PLAYBOOK_FOR.get(category)
        if kind is not None and kind not in kinds:
            kinds.append(kind)
    playbooks = {p.kind: p for p in Playbook.objects.filter(kind__in=kinds)}
    headline = next((HEADLINES[c] for c in categories if c in HEADLINES), "")
    return {
        "playbooks": [
            {"kind": k, "title": playbooks[k].title, "steps": playbooks[k].steps.splitlines()}
            for k in kinds
            if k in playbooks
        ],
        "safeguarding": any(c in ("abuse", "harm_to_others") for c in categories),
        "headline": headline,
    }


def _author(flag: Flag) -> dict[str, str]:
    author = flag.message.author
    return {"username": author.username, "display_name": author.public_name}


def flag_new(flag: Flag, *, oncall_online: bool | None = None) -> Frame:
    frame: Frame = {
        "type": "flag.new",
        "flag_id": flag.pk,
        "room": flag.room.slug,
        "room_title": flag.room.title,
        "seq": flag.message.seq,
        "level": flag.level,
        "categories": flag.categories,
        "evidence": flag.evidence,
        "source": flag.source,
        "reason": flag.reason,
        "held": flag.held,
        "state": flag.state,
        "verdict": flag.verdict,
        "excerpt": _excerpt(flag.message.body),
        "author": _author(flag),
        "created_at": flag.created_at.isoformat(),
        **routing(flag.categories),
    }
    if oncall_online is not None:
        frame["oncall_online"] = oncall_online
    return frame


def flag_updated(flag: Flag) -> Frame:
    return {
        "type": "flag.updated",
        "flag_id": flag.pk,
        "room": flag.room.slug,
        "state": flag.state,
        "verdict": flag.verdict,
    }


def escalation_new(escalation: Escalation) -> Frame:
    flag = escalation.flag
    return {
        "type": "escalation.new",
        "escalation_id": escalation.pk,
        "room": escalation.room.slug,
        "room_title": escalation.room.title,
        "level": escalation.level,
        "categories": escalation.categories,
        "seq": flag.message.seq,
        "excerpt": _excerpt(flag.message.body),
        "author": _author(flag),
        "evidence": flag.evidence,
        "state": escalation.state,
        "tier": escalation.tier,
        "deadline": escalation.deadline.isoformat(),
        "created_at": escalation.created_at.isoformat(),
        "context": _context(escalation),
        **routing(escalation.categories),
    }


def _context(escalation: Escalation) -> Frame:
    """What on-call staff, who are not in the room, need around the message: the kind of
    room, who leads it, and the person's own few messages before this one (never other
    members' words: least privilege)."""
    message = escalation.flag.message
    leaders = Membership.objects.filter(
        room_id=escalation.room_id, role__in=[MemberRole.FACILITATOR, MemberRole.MENTOR]
    ).select_related("user")
    earlier = (
        Message.objects.filter(
            room_id=escalation.room_id, author_id=message.author_id, seq__lt=message.seq
        )
        .exclude(status=MessageStatus.HIDDEN)
        .order_by("-seq")[:CONTEXT_MESSAGES]
    )
    return {
        "room_kind": escalation.room.kind,
        "leaders": [{"display_name": m.user.public_name, "role": m.role} for m in leaders],
        "earlier": [
            {"seq": m.seq, "excerpt": _excerpt(m.body), "sent_at": m.sent_at.isoformat()}
            for m in reversed(earlier)
        ],
    }


def escalation_updated(escalation: Escalation, *, overdue: bool = False) -> Frame:
    frame: Frame = {
        "type": "escalation.updated",
        "escalation_id": escalation.pk,
        "room": escalation.room.slug,
        "state": escalation.state,
        "tier": escalation.tier,
        "overdue": overdue,
        "deadline": escalation.deadline.isoformat(),
    }
    if escalation.acknowledged_by is not None:
        frame["acknowledged_by"] = escalation.acknowledged_by.username
    if escalation.resolved_by is not None:
        frame["resolved_by"] = escalation.resolved_by.username
    return frame


def oncall_unavailable(escalation: Escalation) -> Frame:
    return {
        "type": "oncall.unavailable",
        "escalation_id": escalation.pk,
        "room": escalation.room.slug,
        "detail": "No on-call crisis staff member is online. Please check in with this person "
        "now; the crisis resources have been shown to them.",
    }


def support_resources(*, level: str, locale: str, held: bool, lines: Sequence[CrisisLine]) -> Frame:
    told = "A facilitator has been told and will check in with you."
    return {
        "type": "support.resources",
        "level": level,
        "message": (
            "It sounds like things are really hard right now. You don't have to go through "
            "this alone: you can reach a trained person any time. " + told
        ),
        "held": held,
        "held_notice": (
            "Your message was shared with your facilitator rather than the whole group."
            if held
            else ""
        ),
        "lines": [{"name": ln.name, "contact": ln.contact, "url": ln.url} for ln in lines],
        "locale": locale,
    }


def room_state(room: Room) -> Frame:
    return {
        "type": "room.updated",
        "room": room.slug,
        "locked": room.is_locked,
        "slow_mode_seconds": room.slow_mode_seconds,
    }
