from django.contrib import admin

from chat.models import Message


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    # Bodies are health information: the list shows where and when, not what.
    list_display = ("room", "seq", "author", "status", "sent_at")
    list_filter = ("status", "room")
    readonly_fields = ("room", "author", "seq", "client_id", "sent_at")
