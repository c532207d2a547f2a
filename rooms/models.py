"""People, rooms and memberships."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone


class Role(models.TextChoices):
    """What a person is on the platform as a whole."""

    PARTICIPANT = "participant", "Participant"
    FACILITATOR = "facilitator", "Facilitator"
    MENTOR = "mentor", "Peer mentor"
    ONCALL = "oncall", "On-call crisis staff"


class User(AbstractUser):
    # The pseudonym other participants see; the username stays private to staff.
    display_name = models.CharField(max_length=40, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.PARTICIPANT)

    @property
    def public_name(self) -> str:
        return self.display_name or self.username

    @property
    def is_oncall(self) -> bool:
        return self.role == Role.ONCALL

    @property
    def is_trained_staff(self) -> bool:
        return self.role in {Role.FACILITATOR, Role.MENTOR, Role.ONCALL}


class RoomKind(models.TextChoices):
    GROUP = "group", "Peer-led group"
    MENTORING = "mentoring", "One-on-one mentoring"
    CHECKIN = "checkin", "Private check-in"


class HoldFrom(models.TextChoices):
    """From which screening level messages are held for review in this room."""

    HIGH = "high", "Hold from high (stricter)"
    IMMINENT = "imminent", "Hold imminent risk (default)"
    NEVER = "never", "Do not hold for level alone (method detail is still held)"


class Room(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    title = models.CharField(max_length=120)
    topic = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=16, choices=RoomKind.choices, default=RoomKind.GROUP)
    agreement = models.TextField(
        blank=True, help_text="The group agreement members accept before they take part."
    )
    # Raised whenever the agreement text changes, so that members are asked again.
    agreement_version = models.PositiveIntegerField(default=1)
    is_locked = models.BooleanField(default=False)
    slow_mode_seconds = models.PositiveIntegerField(default=0)
    hold_from = models.CharField(max_length=16, choices=HoldFrom.choices, default=HoldFrom.IMMINENT)
    # The last seq handed out in this room; messages take the next one under a row lock.
    last_seq = models.BigIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class MemberRole(models.TextChoices):
    """What a person is in one room."""

    PARTICIPANT = "participant", "Participant"
    FACILITATOR = "facilitator", "Facilitator"
    MENTOR = "mentor", "Peer mentor"


class Membership(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(
        max_length=16, choices=MemberRole.choices, default=MemberRole.PARTICIPANT
    )
    joined_at = models.DateTimeField(default=timezone.now)
    agreement_accepted_at = models.DateTimeField(null=True, blank=True)
    agreement_version_accepted = models.PositiveIntegerField(null=True, blank=True)
    muted_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "room"], name="membership_unique_user_room")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.room} as {self.role}"

    @property
    def leads_room(self) -> bool:
        return self.role in {MemberRole.FACILITATOR, MemberRole.MENTOR}

    def is_muted(self, now: datetime | None = None) -> bool:
        moment = now or timezone.now()
        return self.muted_until is not None and self.muted_until > moment
