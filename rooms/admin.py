from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest

from rooms.models import Membership, Room, User


@admin.register(User)
class PeerUserAdmin(UserAdmin):
    list_display = ("username", "display_name", "role", "is_active", "is_staff")
    list_filter = ("role", "is_active", "is_staff")
    search_fields = ("username", "display_name")
    fieldsets = (
        *(UserAdmin.fieldsets or ()),
        ("On the platform", {"fields": ("display_name", "role")}),
    )
    add_fieldsets = (
        *UserAdmin.add_fieldsets,
        ("On the platform", {"fields": ("display_name", "role")}),
    )


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ("title", "slug", "kind", "is_locked", "slow_mode_seconds")
    list_filter = ("kind", "is_locked")
    search_fields = ("title", "slug")
    prepopulated_fields = {"slug": ("title",)}
    readonly_fields = ("agreement_version",)
    inlines = [MembershipInline]

    def save_model(self, request: HttpRequest, obj: Room, form: Any, change: bool) -> None:
        # A changed agreement is a new version: members are asked to accept it again.
        if change and "agreement" in form.changed_data:
            obj.agreement_version = (obj.agreement_version or 0) + 1
        super().save_model(request, obj, form, change)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "room", "role", "joined_at", "agreement_accepted_at", "muted_until")
    list_filter = ("role", "room")
    autocomplete_fields = ("user",)
