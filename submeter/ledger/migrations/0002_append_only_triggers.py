"""PostgreSQL refuses UPDATE and DELETE of ledger transactions, entries and audit entries.

The model layer refuses them on every backend; this trigger also stops raw SQL. (TRUNCATE, used
only by test teardown and database resets, is not a row operation and is not affected.)
"""

from django.db import migrations

TABLES = ("ledger_transaction", "ledger_entry", "tenancy_auditentry")

CREATE = """
CREATE OR REPLACE FUNCTION submeter_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'rows of % are append-only', TG_TABLE_NAME USING ERRCODE = 'P0001';
END
$$ LANGUAGE plpgsql;
""" + "".join(
    f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
    f"FOR EACH ROW EXECUTE FUNCTION submeter_refuse_change();\n"
    for table in TABLES
)

DROP = "".join(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};\n" for table in TABLES) + (
    "DROP FUNCTION IF EXISTS submeter_refuse_change();"
)


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(CREATE)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0001_initial"),
        ("tenancy", "0002_organisation_topup_fee_percent"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
