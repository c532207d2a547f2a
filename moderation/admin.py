from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from moderation.models import AuditEvent, CrisisLine, Escalation, Flag, Playbook


@admin.register(CrisisLine)
class CrisisLineAdmin(admin.ModelAdmin):
    list_display = ("name", "contact", "locale", "order", "active")
    list_filter = ("locale", "active")


@admin.register(Playbook)
class PlaybookAdmin(admin.ModelAdmin):
    list_display = ("title", "kind")


@admin.register(Flag)
class FlagAdmin(admin.ModelAdmin):
    list_display = ("id", "room", "level", "source", "state", "verdict", "created_at")
    list_filter = ("level", "source", "state", "verdict")
    readonly_fields = [f.name for f in Flag._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Escalation)
class EscalationAdmin(admin.ModelAdmin):
    list_display = ("id", "room", "level", "state", "tier", "deadline", "acknowledged_by")
    list_filter = ("state", "level")
    readonly_fields = [f.name for f in Escalation._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit log is append-only, for admins too."""

    list_display = (
        "number",
        "at",
        "actor_username",
        "actor_role",
        "action",
        "target_type",
        "target_id",
    )
    list_filter = ("action", "actor_role")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
