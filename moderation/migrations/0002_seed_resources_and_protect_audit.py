"""Default crisis lines and playbooks (operators edit them in the admin), and on PostgreSQL a
trigger that refuses UPDATE and DELETE on the audit log."""

from django.db import migrations

from moderation.defaults import seed_defaults

PROTECT = """
CREATE OR REPLACE FUNCTION moderation_audit_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS moderation_audit_append_only ON moderation_auditevent;
CREATE TRIGGER moderation_audit_append_only BEFORE UPDATE OR DELETE ON moderation_auditevent
  FOR EACH ROW EXECUTE FUNCTION moderation_audit_append_only();
"""
UNPROTECT = """
DROP TRIGGER IF EXISTS moderation_audit_append_only ON moderation_auditevent;
DROP FUNCTION IF EXISTS moderation_audit_append_only();
"""


def seed(apps, schema_editor):
    seed_defaults(apps.get_model("moderation", "CrisisLine"), apps.get_model("moderation", "Playbook"))


def protect(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PROTECT)


def unprotect(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(UNPROTECT)


class Migration(migrations.Migration):
    dependencies = [("moderation", "0001_initial")]

    operations = [
        migrations.RunPython(seed, migrations.RunPython.noop),
        migrations.RunPython(protect, unprotect),
    ]
