"""On PostgreSQL the ledger refuses UPDATE, DELETE and TRUNCATE at the database itself.

SQLite (the embedded `make run` default) has no TRUNCATE and its triggers are not a security
boundary there anyway; the signed checkpoints are what catch tampering on any backend.
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger_auditevent is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER ledger_auditevent_no_update_delete
    BEFORE UPDATE OR DELETE ON ledger_auditevent
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();

CREATE TRIGGER ledger_auditevent_no_truncate
    BEFORE TRUNCATE ON ledger_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS ledger_auditevent_no_truncate ON ledger_auditevent;
DROP TRIGGER IF EXISTS ledger_auditevent_no_update_delete ON ledger_auditevent;
DROP FUNCTION IF EXISTS ledger_refuse_change();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0002_initial")]
    operations = [migrations.RunPython(forward, backward)]
