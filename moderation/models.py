"""Flags, escalations and the audit log (filled in by the moderation work)."""
