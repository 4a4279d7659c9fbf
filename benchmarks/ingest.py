"""Ingest benchmark: gateways publish readings over MQTT (100 meters per message, QoS 1) into
one ingest worker; readings stored per second against the raw insert rate of the same rows
(executemany on SQLite, COPY on PostgreSQL), measured in the same run.

    .venv/bin/python benchmarks/ingest.py [--meters 10000] [--intervals 10] [--postgres URL]
        [--decode-processes 0|1]

The worker runs its production loop (`IngestWorker.run`), decoding in a second process as
`submeter ingest` does on a machine with more than one core.

The broker is $MQTT_URL (Mosquitto on CI) or the embedded one. SQLite runs in a fresh file under
a temporary directory; with --postgres (or $DATABASE_URL pointing at PostgreSQL) a fresh database
`submeter_bench` is created next to the given one.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PER_MESSAGE = 100


def payloads(org: str, meters: int, intervals: int) -> list[tuple[str, bytes]]:
    from submeter.protocols.mqtt_payloads import MeterReading, ReadingsMessage, encode_readings
    from submeter.protocols.mqtt_topics import TopicKind, build_topic

    start = datetime(2026, 11, 1, tzinfo=UTC)
    messages = []
    for interval in range(intervals):
        at = start + timedelta(minutes=15 * interval)
        for first in range(0, meters, PER_MESSAGE):
            gateway = f"gw-{first // PER_MESSAGE:04d}"
            readings = tuple(
                MeterReading(
                    f"{n:012d}",
                    at,
                    {
                        "energy_kwh": Decimal(1000 + n % 97 + interval) + Decimal("0.25"),
                        "power_kw": Decimal("1.2345"),
                        "voltage_a_v": Decimal("220.1"),
                        "current_a_a": Decimal("5.123"),
                        "power_factor": Decimal("0.95"),
                    },
                )
                for n in range(first, min(first + PER_MESSAGE, meters))
            )
            messages.append(
                (
                    build_topic(org, gateway, TopicKind.READINGS),
                    encode_readings(ReadingsMessage(gateway, f"{interval}-{first}", readings)),
                )
            )
    return messages


def publish(url: str, messages: list[tuple[str, bytes]], ready, go) -> None:
    """A separate process: the gateways' side."""
    from submeter.mqtt.client import create_client, disconnect, parse_mqtt_url

    endpoint = parse_mqtt_url(url)
    client = create_client(endpoint, client_id=f"bench-pub-{uuid.uuid4().hex[:8]}")
    client.max_inflight_messages_set(1000)  # paho stalls near 65k in flight; 1000 is plenty
    client.connect(endpoint.host, endpoint.port)
    client.loop_start()
    ready.set()
    go.wait()
    infos = [client.publish(topic, payload, qos=1) for topic, payload in messages]
    for info in infos:
        info.wait_for_publish(60)
    disconnect(client)


def setup_database(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SUBMETER_DATA_DIR", tempfile.mkdtemp(prefix="submeter-bench-"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "submeter.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def run(url: str, database: str, meters: int, intervals: int, decode_processes: int) -> dict:
    setup_database(database)
    from django.db import connection

    from submeter.metering.ingest import VALUE_FIELDS
    from submeter.metering.models import Gateway, Meter, Reading
    from submeter.metering.mqtt_ingest import IngestWorker
    from submeter.tenancy.models import Organisation

    code = f"bench-{uuid.uuid4().hex[:8]}"
    organisation = Organisation.objects.create(name=code, code=code)
    gateways = Gateway.objects.bulk_create(
        Gateway(organisation=organisation, name=f"gw-{g:04d}", serial=f"gw-{g:04d}")
        for g in range((meters + PER_MESSAGE - 1) // PER_MESSAGE)
    )
    Meter.objects.bulk_create(
        Meter(
            organisation=organisation,
            address=f"{n:012d}",
            gateway=gateways[n // PER_MESSAGE],
            rated_power_kw=Decimal("50"),
        )
        for n in range(meters)
    )
    print(
        f"  {meters} meters behind {len(gateways)} gateways; generating {meters * intervals} readings…",
        flush=True,
    )
    messages = payloads(code, meters, intervals)
    expected = meters * intervals

    worker = IngestWorker(
        url,
        client_id=f"bench-ingest-{code}",
        share_group="",
        mqtt5=not url.startswith("embedded:"),
        decode_processes=decode_processes,
    )
    worker.subscription_organisation = code
    worker.start()
    spawn = multiprocessing.get_context("spawn")
    ready, go = spawn.Event(), spawn.Event()
    publisher = spawn.Process(target=publish, args=(url, messages, ready, go))
    publisher.start()
    if not ready.wait(30):
        raise SystemExit("the publisher did not start")
    go.set()
    started = time.perf_counter()

    def done() -> bool:
        if time.perf_counter() - started > 600:
            raise SystemExit("timed out")
        return worker.stats.result.stored + worker.stats.result.duplicates >= expected

    def progress(stats) -> None:
        print(
            f"    {stats.result.stored} readings stored ({stats.messages} messages, "
            f"{stats.result.quarantined} quarantined)…",
            flush=True,
        )

    worker.run(until=done, on_report=progress, report_every_s=2)
    elapsed = time.perf_counter() - started
    publisher.join(60)
    worker.stop()
    stored = Reading.objects.filter(organisation=organisation).count()
    assert stored == expected, (stored, expected)

    # The bound: the same rows inserted directly.
    rows = list(
        Reading.objects.filter(organisation=organisation).values_list(
            "meter_id", "organisation_id", "timestamp", "source", "received_at", *VALUE_FIELDS
        )
    )
    table = Reading._meta.db_table
    columns = ("meter_id", "organisation_id", "timestamp", "source", "received_at", *VALUE_FIELDS)
    from submeter.ledger.fields import to_scaled
    from submeter.metering.models import FIELD_PLACES

    raw_rows = [
        (
            *row[:2],
            connection.ops.adapt_datetimefield_value(row[2]),
            row[3],
            connection.ops.adapt_datetimefield_value(row[4]),
            *(
                None if value is None else to_scaled(value, FIELD_PLACES[name])
                for name, value in zip(VALUE_FIELDS, row[5:], strict=True)
            ),
        )
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE organisation_id = %s", [organisation.pk])
    from django.db import transaction

    raw_started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in raw_rows:
                    copy.write_row(row)
        else:
            cursor.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})",
                raw_rows,
            )
    raw_elapsed = time.perf_counter() - raw_started
    return {
        "vendor": connection.vendor,
        "readings": expected,
        "messages": len(messages),
        "readings_per_s": expected / elapsed,
        "messages_per_s": len(messages) / elapsed,
        "raw_per_s": expected / raw_elapsed,
    }


def child(url: str, database: str, meters: int, intervals: int, decode: int, queue) -> None:
    queue.put(run(url, database, meters, intervals, decode))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--meters", type=int, default=10000)
    parser.add_argument("--intervals", type=int, default=10)
    parser.add_argument(
        "--decode-processes",
        type=int,
        choices=(0, 1),
        default=None,
        help="as `submeter ingest --decode-processes` (default: 1 with more than one core)",
    )
    parser.add_argument(
        "--postgres", default="", help="a PostgreSQL URL (default: $DATABASE_URL if PostgreSQL)"
    )
    args = parser.parse_args()
    from submeter.metering.mqtt_decode import DEFAULT_DECODE_PROCESSES

    decode = DEFAULT_DECODE_PROCESSES if args.decode_processes is None else args.decode_processes
    url = os.environ.get("MQTT_URL", "")
    broker = None
    if not url:
        from submeter.mqtt.broker import EmbeddedBroker

        broker = EmbeddedBroker()
        url = broker.start()
        print(f"embedded broker at {url} (set MQTT_URL for Mosquitto)")
    databases = [
        ("SQLite", f"sqlite:///{tempfile.mkdtemp(prefix='submeter-bench-')}/bench.sqlite3")
    ]
    postgres = args.postgres or (
        os.environ.get("DATABASE_URL", "")
        if os.environ.get("DATABASE_URL", "").startswith("postgres")
        else ""
    )
    if postgres:
        import psycopg

        base, _, _name = postgres.rpartition("/")
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute("DROP DATABASE IF EXISTS submeter_bench")
            admin.execute("CREATE DATABASE submeter_bench")
        databases.append(("PostgreSQL", f"{base}/submeter_bench"))
    results = []
    for label, database in databases:
        print(f"{label} (decoding in {decode} other process(es)):", flush=True)
        spawn = multiprocessing.get_context("spawn")
        queue = spawn.Queue()
        process = spawn.Process(
            target=child, args=(url, database, args.meters, args.intervals, decode, queue)
        )
        process.start()
        result = queue.get(timeout=900)
        process.join()
        results.append((label, result))
        print(
            f"  ingest: {result['readings_per_s']:>10,.0f} readings/s ({result['messages_per_s']:,.0f} messages/s)\n"
            f"  raw:    {result['raw_per_s']:>10,.0f} rows/s ({'COPY' if result['vendor'] == 'postgresql' else 'executemany'})\n"
            f"  ratio:  {result['readings_per_s'] / result['raw_per_s']:.2f} of the raw bound (goal ≥ 0.5)",
            flush=True,
        )
    if broker is not None:
        broker.stop()


if __name__ == "__main__":
    main()
