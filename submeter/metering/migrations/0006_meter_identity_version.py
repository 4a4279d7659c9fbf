from django.db import migrations, models

WATCHED = "organisation_id, address, ct_ratio, rated_power_kw"

SQLITE = [
    "INSERT INTO metering_meteridentityversion (id, version) VALUES (1, 0)",
    f"""CREATE TRIGGER meter_identity_updated AFTER UPDATE OF {WATCHED} ON metering_meter
    BEGIN UPDATE metering_meteridentityversion SET version = version + 1 WHERE id = 1; END""",
    """CREATE TRIGGER meter_identity_deleted AFTER DELETE ON metering_meter
    BEGIN UPDATE metering_meteridentityversion SET version = version + 1 WHERE id = 1; END""",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS meter_identity_updated",
    "DROP TRIGGER IF EXISTS meter_identity_deleted",
]
POSTGRESQL = [
    "INSERT INTO metering_meteridentityversion (id, version) VALUES (1, 0)",
    """CREATE FUNCTION metering_meter_identity_changed() RETURNS trigger AS $$
    BEGIN
        UPDATE metering_meteridentityversion SET version = version + 1 WHERE id = 1;
        RETURN NULL;
    END $$ LANGUAGE plpgsql""",
    f"""CREATE TRIGGER meter_identity_changed AFTER UPDATE OF {WATCHED} OR DELETE
    ON metering_meter FOR EACH STATEMENT EXECUTE FUNCTION metering_meter_identity_changed()""",
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS meter_identity_changed ON metering_meter",
    "DROP FUNCTION IF EXISTS metering_meter_identity_changed()",
]


def run(statements_by_vendor):
    def apply(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return apply


class Migration(migrations.Migration):
    """The meter identity version and the triggers that move it (see the model)."""

    dependencies = [
        ("metering", "0005_meter_tariff"),
    ]

    operations = [
        migrations.CreateModel(
            name="MeterIdentityVersion",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("version", models.BigIntegerField(default=0)),
            ],
            options={
                "verbose_name": "meter identity version",
            },
        ),
        migrations.RunPython(
            run({"sqlite": SQLITE, "postgresql": POSTGRESQL}),
            run({"sqlite": SQLITE_REVERSE, "postgresql": POSTGRESQL_REVERSE}),
        ),
    ]
