"""Rating benchmark: meter-days of 96 quarter-hour values against a 4-rate time-of-use tariff.

Measures, in the same run and on the same data:

* the engine: `submeter.engine.meter_days.rate_meter_days` (calendar lookup per day, exact
  integer sums per rate, half-up rounding per line) plus the `Decimal` total of every meter-day;
* the bound: bare numpy computing the same per-rate sums and amounts for one fixed day profile
  (no calendar, no rounding, no Decimal).

Usage: .venv/bin/python benchmarks/rating.py [--meter-days N]
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta
from decimal import Decimal

import numpy as np

from submeter.engine import parse_tariff
from submeter.engine.meter_days import rate_meter_days

DECIMALS = 4
"""Consumption in units of 0.0001 kWh."""
SLOTS_PER_DAY = 96
FIRST_DAY = date(2024, 1, 1)
PRICES = {"sharp": "1.0606", "peak": "0.8876", "flat": "0.705", "valley": "0.4038"}

SUMMER_WINTER = [
    ("00:00", "08:00", "valley"),
    ("08:00", "09:00", "peak"),
    ("09:00", "11:00", "sharp"),
    ("11:00", "13:00", "valley"),
    ("13:00", "15:00", "flat"),
    ("15:00", "17:00", "sharp"),
    ("17:00", "23:00", "peak"),
    ("23:00", "24:00", "flat"),
]
SPRING_AUTUMN = [
    ("00:00", "08:00", "valley"),
    ("08:00", "11:00", "peak"),
    ("11:00", "13:00", "valley"),
    ("13:00", "17:00", "peak"),
    ("17:00", "24:00", "flat"),
]


def periods(table: list[tuple[str, str, str]]) -> list[dict[str, str]]:
    return [{"from": start, "to": end, "rate": rate} for start, end, rate in table]


def benchmark_tariff() -> dict:
    """Zhejiang 2024 industrial bands (浙发改价格〔2024〕21号) with the sample bill's prices."""
    return {
        "id": "benchmark-tou",
        "utility": "electricity",
        "versions": [
            {
                "valid_from": "2024-01-01",
                "energy": {
                    "kind": "tou",
                    "rates": {code: {"price": price} for code, price in PRICES.items()},
                    "day_profiles": {
                        "summer_winter": periods(SUMMER_WINTER),
                        "spring_autumn": periods(SPRING_AUTUMN),
                    },
                    "seasons": [
                        {
                            "name": "summer and winter",
                            "months": [1, 7, 8, 12],
                            "profiles": {"workday": "summer_winter"},
                        },
                        {
                            "name": "spring and autumn",
                            "months": [2, 3, 4, 5, 6, 9, 10, 11],
                            "profiles": {"workday": "spring_autumn"},
                        },
                    ],
                    "special_days": [
                        {"date": "2024-10-01", "until": "2024-10-07", "day_type": "holiday"}
                    ],
                },
            }
        ],
    }


def bound_inputs() -> tuple[np.ndarray, np.ndarray]:
    """One-hot slot -> rate matrix of the summer/winter profile, and prices in millionths."""
    codes = list(PRICES)
    one_hot = np.zeros((SLOTS_PER_DAY, len(codes)), dtype=np.int64)
    for start, end, rate in SUMMER_WINTER:
        first = int(start[:2]) * 4
        last = int(end[:2]) * 4
        one_hot[first:last, codes.index(rate)] = 1
    price_units = np.array([int(Decimal(PRICES[code]) * 10**6) for code in codes])
    return one_hot, price_units


def bare_numpy(consumption: np.ndarray, one_hot: np.ndarray, price_units: np.ndarray) -> np.ndarray:
    sums = consumption @ one_hot
    return (sums * price_units).sum(axis=1)


def chunk_days(chunk_index: int, meters: int, days_per_chunk: int) -> np.ndarray:
    first = np.datetime64(FIRST_DAY + timedelta(days=chunk_index * days_per_chunk), "D")
    days = first + np.arange(days_per_chunk)
    return np.repeat(days, meters)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meter-days", type=int, default=1_000_000)
    parser.add_argument("--meters", type=int, default=1000, help="meters per chunk")
    parser.add_argument("--days-per-chunk", type=int, default=20)
    args = parser.parse_args()

    tariff = parse_tariff(benchmark_tariff())
    chunk_size = args.meters * args.days_per_chunk
    chunks = max(1, -(-args.meter_days // chunk_size))
    generator = np.random.default_rng(2024)
    pool = [
        generator.integers(0, 2500, size=(chunk_size, SLOTS_PER_DAY), dtype=np.int64)
        for _ in range(4)
    ]
    one_hot, price_units = bound_inputs()
    print(
        f"rating {chunks * chunk_size:,} meter-days ({chunks} chunks of {args.meters} meters "
        f"x {args.days_per_chunk} days, {SLOTS_PER_DAY} values each)"
    )
    engine_seconds = 0.0
    bound_seconds = 0.0
    billed = Decimal(0)
    for chunk in range(chunks):
        consumption = pool[chunk % len(pool)]
        days = chunk_days(chunk, args.meters, args.days_per_chunk)

        started = time.perf_counter()
        rated = rate_meter_days(tariff, days, consumption, decimals=DECIMALS)
        totals = rated.totals()
        engine_seconds += time.perf_counter() - started
        billed += sum(totals, Decimal(0))

        started = time.perf_counter()
        bare_numpy(consumption, one_hot, price_units)
        bound_seconds += time.perf_counter() - started

        if (chunk + 1) % max(1, chunks // 10) == 0 or chunk + 1 == chunks:
            print(f"  {(chunk + 1) * chunk_size:>12,} meter-days done", flush=True)

    meter_days = chunks * chunk_size
    engine_rate = meter_days / engine_seconds
    bound_rate = meter_days / bound_seconds
    print(f"engine:      {engine_rate:>12,.0f} meter-days/s  ({engine_seconds:.2f} s)")
    print(f"numpy bound: {bound_rate:>12,.0f} meter-days/s  ({bound_seconds:.2f} s)")
    print(f"ratio:       {engine_seconds / bound_seconds:.2f}x the bound (goal: within 3x)")
    print(f"billed:      {billed:,} CNY in total")


if __name__ == "__main__":
    main()
