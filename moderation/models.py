"""Flags, escalations, crisis resources, playbooks and the audit log."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from moderation.audit import AuditEvent, AuditHead

__all__ = [
    "AuditEvent",
    "AuditHead",
    "CrisisLine",
    "Escalation",
    "EscalationState",
    "Flag",
    "FlagSource",
    "FlagState",
    "Level",
    "Playbook",
    "PlaybookKind",
    "StaffConnection",
    "Verdict",
]


class Level(models.TextChoices):
    NONE = "none", "None"
    WATCH = "watch", "Watch"
    HIGH = "high", "High"
    IMMINENT = "imminent", "Imminent"


class FlagSource(models.TextChoices):
    DETECTOR = "detector", "Crisis screening"
    PEER_REPORT = "peer_report", "Peer report"
    DETECTOR_FAILURE = "detector_failure", "Screening failed (held to be safe)"
    SECOND_LOOK = "second_look", "Crisis screening, second look"


class FlagState(models.TextChoices):
    OPEN = "open", "Open"
    HANDLED = "handled", "Handled"


class Verdict(models.TextChoices):
    NONE = "", "Not reviewed"
    CONFIRMED = "confirmed", "Confirmed"
    FALSE_ALARM = "false_alarm", "False alarm"


class Flag(models.Model):
    """A message that needs a trained person's eyes, and why."""

    room = models.ForeignKey("rooms.Room", on_delete=models.CASCADE, related_name="flags")
    message = models.ForeignKey("chat.Message", on_delete=models.CASCADE, related_name="flags")
    level = models.CharField(max_length=16, choices=Level.choices)
    categories = models.JSONField(default=list)
    # Rule ids and the phrases that fired; shown to staff, never logged.
    evidence = models.JSONField(default=list)
    source = models.CharField(max_length=24, choices=FlagSource.choices)
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=500, blank=True)
    held = models.BooleanField(default=False)
    state = models.CharField(max_length=16, choices=FlagState.choices, default=FlagState.OPEN)
    verdict = models.CharField(max_length=16, choices=Verdict.choices, default="", blank=True)
    verdict_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["room", "state"])]

    def __str__(self) -> str:
        return f"{self.level} flag on #{self.message_id}"


class EscalationState(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


class Escalation(models.Model):
    """A crisis put before on-call staff, with a deadline to acknowledge it."""

    flag = models.OneToOneField(Flag, on_delete=models.CASCADE, related_name="escalation")
    room = models.ForeignKey("rooms.Room", on_delete=models.CASCADE, related_name="escalations")
    level = models.CharField(max_length=16, choices=Level.choices)
    categories = models.JSONField(default=list)
    tier = models.PositiveIntegerField(default=1)
    state = models.CharField(
        max_length=16, choices=EscalationState.choices, default=EscalationState.OPEN
    )
    deadline = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["state", "deadline"])]

    def __str__(self) -> str:
        return f"escalation {self.pk} ({self.state}, tier {self.tier})"


class CrisisLine(models.Model):
    """A crisis line shown to a person at risk. Operators edit these in the admin."""

    locale = models.CharField(
        max_length=16, default="en-US", help_text="e.g. en-US, en-GB; 'intl' shows everywhere"
    )
    name = models.CharField(max_length=120)
    contact = models.CharField(max_length=200, help_text="e.g. 'Call or text 988'")
    url = models.URLField(blank=True)
    order = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["order", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.locale})"


class PlaybookKind(models.TextChoices):
    RISK_TO_SELF = "risk_to_self", "Risk to self"
    HARM_TO_OTHERS = "harm_to_others", "Harm to others"
    ABUSE = "abuse", "Abuse disclosure"
    SUBSTANCE = "substance", "Substance emergency"


class Playbook(models.Model):
    """What staff should do for one kind of risk. Editable in the admin."""

    kind = models.CharField(max_length=24, choices=PlaybookKind.choices, unique=True)
    title = models.CharField(max_length=120)
    steps = models.TextField()

    def __str__(self) -> str:
        return self.title


class StaffConnection(models.Model):
    """An open staff socket, so that any process can tell whether on-call staff are online.

    Rows are removed on disconnect; a crashed process's rows age out by ``last_seen``.
    """

    channel_name = models.CharField(max_length=200, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    oncall = models.BooleanField(default=False)
    last_seen = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.user} online"
