"""The append-only, hash-chained audit log of staff actions and escalation transitions.

Each event stores the hash of the one before it; ``audit_verify`` recomputes the chain and
names the first event that does not match. Events record who, in what role, did what to
which target and when; never the text of a message (it is health information, and the
message row is the record of it). On PostgreSQL a trigger refuses UPDATE and DELETE.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

GENESIS = "0" * 64


class AuditHead(models.Model):
    """One row: the chain's length and last hash, locked by every append."""

    count = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default=GENESIS)

    def __str__(self) -> str:
        return f"audit chain of {self.count} events"


class AuditEvent(models.Model):
    number = models.BigIntegerField(unique=True)
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_username = models.CharField(max_length=150, blank=True)  # "" is the system
    actor_role = models.CharField(max_length=32, blank=True)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=32)
    target_id = models.CharField(max_length=64)
    details = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return f"#{self.number} {self.action} {self.target_type}:{self.target_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise PermissionError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("Audit events are append-only.")

    def compute_hash(self) -> str:
        payload = {
            "number": self.number,
            "at": self.at.isoformat(),
            "actor": self.actor_username,
            "actor_role": self.actor_role,
            "action": self.action,
            "target": f"{self.target_type}:{self.target_id}",
            "details": self.details,
            "prev": self.prev_hash,
        }
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()


def audit_record(
    *,
    actor: Any | None,
    action: str,
    target_type: str,
    target_id: object,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event. Call inside the transaction of the change it records."""
    with transaction.atomic():
        head, _ = AuditHead.objects.select_for_update().get_or_create(pk=1)
        event = AuditEvent(
            number=head.count + 1,
            at=timezone.now(),
            actor=actor,
            actor_username=getattr(actor, "username", "") or "",
            actor_role=getattr(actor, "role", "system") if actor is not None else "system",
            action=action,
            target_type=target_type,
            target_id=str(target_id),
            details=details or {},
            prev_hash=head.last_hash,
        )
        event.hash = event.compute_hash()
        event.save()
        head.count = event.number
        head.last_hash = event.hash
        head.save(update_fields=["count", "last_hash"])
    return event


@dataclass(frozen=True)
class ChainReport:
    holds: bool
    checked: int
    first_broken: int | None = None
    reason: str = ""


def audit_verify() -> ChainReport:
    """Walk the chain in order; report the first event whose link or hash is wrong."""
    expected_prev = GENESIS
    expected_number = 1
    checked = 0
    for event in AuditEvent.objects.order_by("number").iterator(chunk_size=2000):
        if event.number != expected_number:
            return ChainReport(False, checked, expected_number, "an event is missing")
        if event.prev_hash != expected_prev:
            return ChainReport(False, checked, event.number, "it does not link to the one before")
        if event.compute_hash() != event.hash:
            return ChainReport(False, checked, event.number, "its content was changed")
        expected_prev = event.hash
        expected_number += 1
        checked += 1
    head = AuditHead.objects.filter(pk=1).first()
    if head is not None and head.count != checked:
        return ChainReport(False, checked, checked + 1, "events at the end are missing")
    return ChainReport(True, checked)
