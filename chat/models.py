"""Messages: the record of truth for everything said in a room."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class MessageStatus(models.TextChoices):
    DELIVERED = "delivered", "Delivered"
    HELD = "held", "Held for review"
    HIDDEN = "hidden", "Hidden by staff"


class Message(models.Model):
    room = models.ForeignKey("rooms.Room", on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="messages"
    )
    # Strictly increasing per room, handed out under the room's row lock.
    seq = models.BigIntegerField()
    client_id = models.CharField(max_length=64)
    body = models.TextField()
    status = models.CharField(
        max_length=16, choices=MessageStatus.choices, default=MessageStatus.DELIVERED
    )
    sent_at = models.DateTimeField(default=timezone.now)
    # Waiting for the thorough detector's second look, off the message path
    # (moderation.second_look): set for every new message, cleared once it is done.
    second_look_pending = models.BooleanField(default=True)

    class Meta:
        ordering = ["room", "seq"]
        indexes = [
            models.Index(
                fields=["id"],
                condition=models.Q(second_look_pending=True),
                name="message_second_look_pending",
            ),
            # A sender's last few messages, read for screening with every batch.
            models.Index(fields=["room", "author", "seq"], name="message_room_author_seq"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["room", "seq"], name="message_unique_room_seq"),
            # Idempotent sends: the same client_id from the same author is one message.
            models.UniqueConstraint(
                fields=["room", "author", "client_id"], name="message_unique_client_id"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} in room {self.room_id}"


class ServerProcess(models.Model):
    """A web process that holds room sockets, and when it last said it was alive.

    Presence rows of a process that stopped beating (killed, crashed) stop counting.
    """

    name = models.CharField(max_length=100, unique=True)
    seen_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class Presence(models.Model):
    """One open room socket: who is in a room right now, across every web process."""

    room = models.ForeignKey("rooms.Room", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    process = models.ForeignKey(ServerProcess, on_delete=models.CASCADE, related_name="+")
    opened_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["room", "user"])]

    def __str__(self) -> str:
        return f"{self.user_id} in room {self.room_id}"
