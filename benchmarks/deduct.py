"""Deduction benchmark: meters × intervals of readings billed by `billing.services.deduct`;
deductions (billed intervals) per second, live (one interval per run, as after each ingest) and
catch-up (a backlog of intervals per run), against the engine's `rate()` alone on the same
intervals, measured in the same run.

    .venv/bin/python benchmarks/deduct.py [--meters 200] [--intervals 20] [--postgres URL]

SQLite runs in a fresh file under a temporary directory; with --postgres a fresh database
`submeter_bench_deduct` is created next to the given one.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

START = (2026, 11, 1)
TOU = {
    "id": "bench-tou",
    "utility": "electricity",
    "timezone": "Asia/Shanghai",
    "versions": [
        {
            "valid_from": "2020-01-01",
            "energy": {
                "kind": "tou",
                "rates": {
                    "peak": {"price": "1.0606"},
                    "flat": {"price": "0.705"},
                    "valley": {"price": "0.4038"},
                },
                "day_profiles": {
                    "day": [
                        {"from": "00:00", "to": "08:00", "rate": "valley"},
                        {"from": "08:00", "to": "11:00", "rate": "flat"},
                        {"from": "11:00", "to": "17:00", "rate": "peak"},
                        {"from": "17:00", "to": "24:00", "rate": "flat"},
                    ]
                },
            },
        }
    ],
}


def setup_database(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SUBMETER_DATA_DIR", tempfile.mkdtemp(prefix="submeter-bench-"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "submeter.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def readings(meters, intervals: range):
    from datetime import datetime

    from submeter.metering.models import Reading

    start = datetime(*START, tzinfo=ZoneInfo("Asia/Shanghai"))
    return [
        Reading(
            meter=meter,
            organisation_id=meter.organisation_id,
            timestamp=start + timedelta(minutes=15 * i),
            source="mqtt",
            energy_kwh=Decimal(1000 + meter.pk % 7) + Decimal("0.137") * i,
        )
        for i in intervals
        for meter in meters
    ]


def run(database: str, meters: int, intervals: int) -> dict:
    setup_database(database)
    from submeter.billing.services import REAL_TIME_LINES, deduct_meters, engine_tariff
    from submeter.customers.models import Customer
    from submeter.engine import Interval, Usage, rate
    from submeter.metering.models import Meter, Reading
    from submeter.tariffs.models import Tariff
    from submeter.tenancy.models import Organisation

    code = f"bench-{uuid.uuid4().hex[:8]}"
    organisation = Organisation.objects.create(name=code, code=code)
    tariff = Tariff.objects.create(organisation=organisation, name="TOU", document=TOU)
    customers = Customer.objects.bulk_create(
        Customer(organisation=organisation, name=f"tenant {n}") for n in range(meters)
    )
    created = Meter.objects.bulk_create(
        Meter(organisation=organisation, address=f"{n:012d}", customer=c, tariff=tariff)
        for n, c in enumerate(customers)
    )
    ids = [m.pk for m in created]
    Reading.objects.bulk_create(readings(created, range(1)))
    deduct_meters(ids)  # opens the cursors

    # Live: one new interval per meter, then a deduction run over all meters.
    started = time.perf_counter()
    for i in range(1, intervals + 1):
        Reading.objects.bulk_create(readings(created, range(i, i + 1)))
        outcomes = deduct_meters(ids)
        assert all(o.intervals == 1 for o in outcomes)
    live = meters * intervals / (time.perf_counter() - started)

    # Catch-up: a backlog of `intervals` per meter, one run per meter.
    Reading.objects.bulk_create(readings(created, range(intervals + 1, 2 * intervals + 1)))
    started = time.perf_counter()
    outcomes = deduct_meters(ids)
    catch_up = meters * intervals / (time.perf_counter() - started)
    assert all(o.intervals == intervals for o in outcomes)

    # The bound: the engine alone on the same number of single intervals.
    engine = engine_tariff(tariff)
    from datetime import datetime

    start = datetime(*START, tzinfo=ZoneInfo("Asia/Shanghai"))
    usages = [
        Usage(
            intervals=(Interval(start + timedelta(minutes=15 * (i % 96)), Decimal("0.137")),),
            charges=REAL_TIME_LINES,
        )
        for i in range(meters * intervals)
    ]
    started = time.perf_counter()
    for usage in usages:
        rate(engine, usage)
    bound = len(usages) / (time.perf_counter() - started)
    from django.db import connection

    return {"vendor": connection.vendor, "live": live, "catch_up": catch_up, "engine": bound}


def child(database: str, meters: int, intervals: int, queue) -> None:
    queue.put(run(database, meters, intervals))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--meters", type=int, default=200)
    parser.add_argument("--intervals", type=int, default=20)
    parser.add_argument("--postgres", default="", help="a PostgreSQL URL")
    args = parser.parse_args()
    databases = [
        ("SQLite", f"sqlite:///{tempfile.mkdtemp(prefix='submeter-bench-')}/bench.sqlite3")
    ]
    if args.postgres:
        import psycopg

        base, _, _name = args.postgres.rpartition("/")
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute("DROP DATABASE IF EXISTS submeter_bench_deduct")
            admin.execute("CREATE DATABASE submeter_bench_deduct")
        databases.append(("PostgreSQL", f"{base}/submeter_bench_deduct"))
    for label, database in databases:
        print(f"{label}: {args.meters} meters × {args.intervals} intervals", flush=True)
        spawn = multiprocessing.get_context("spawn")
        queue = spawn.Queue()
        process = spawn.Process(target=child, args=(database, args.meters, args.intervals, queue))
        process.start()
        result = queue.get(timeout=1800)
        process.join()
        print(
            f"  live:     {result['live']:>9,.0f} deductions/s (one interval per run)\n"
            f"  catch-up: {result['catch_up']:>9,.0f} deductions/s ({args.intervals} per run)\n"
            f"  engine:   {result['engine']:>9,.0f} intervals/s (rate() alone, the bound)\n"
            f"  ratio:    {result['live'] / result['engine']:.2f} live, "
            f"{result['catch_up'] / result['engine']:.2f} catch-up, of the engine bound",
            flush=True,
        )


if __name__ == "__main__":
    main()
