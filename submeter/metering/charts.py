"""The series behind a meter's 7-day charts: energy per interval, power, voltage and current."""

from __future__ import annotations

import datetime
import json

from django.utils import timezone

from submeter.metering.models import Meter, Reading

SERIES_FIELDS = ("timestamp", "energy_kwh", "water_m3", "power_kw", "voltage_a_v", "current_a_a")


def _number(value) -> float | None:
    # Chart points only: the stored values stay exact decimals.
    return None if value is None else float(value)


def seven_day_charts(meter: Meter, now: datetime.datetime | None = None) -> dict[str, str]:
    """Chart.js data documents (as JSON text for Unfold's chart component)."""
    now = now or timezone.now()
    rows = list(
        Reading.objects.filter(
            meter=meter, timestamp__gte=now - datetime.timedelta(days=7), timestamp__lte=now
        )
        .order_by("timestamp")
        .values(*SERIES_FIELDS)
    )
    register = "water_m3" if meter.kind == "water" else "energy_kwh"
    labels, usage, power, voltage, current = [], [], [], [], []
    previous = None
    for row in rows:
        labels.append(timezone.localtime(row["timestamp"]).strftime("%m-%d %H:%M"))
        value = row[register]
        usage.append(
            _number(value - previous) if value is not None and previous is not None else None
        )
        previous = value if value is not None else previous
        power.append(_number(row["power_kw"]))
        voltage.append(_number(row["voltage_a_v"]))
        current.append(_number(row["current_a_a"]))
    unit = "m³" if meter.kind == "water" else "kWh"
    return {
        "usage": json.dumps(
            {
                "labels": labels,
                "datasets": [
                    {"label": unit, "data": usage, "backgroundColor": "var(--color-primary-600)"}
                ],
            }
        ),
        "power": json.dumps(
            {
                "labels": labels,
                "datasets": [
                    {"label": "kW", "data": power, "borderColor": "var(--color-primary-600)"}
                ],
            }
        ),
        "voltage_current": json.dumps(
            {
                "labels": labels,
                "datasets": [
                    {"label": "V", "data": voltage, "borderColor": "var(--color-primary-600)"},
                    {"label": "A", "data": current, "borderColor": "var(--color-base-400)"},
                ],
            }
        ),
        "points": len(rows),
    }
