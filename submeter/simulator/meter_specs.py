"""Which meters to simulate: generated ones, or a meters file.

Generated meters (`generate_meter_specs`) have fixed addresses, whatever the seed:
electricity `99` + 10 digits (`990000000001`, …), water `98` + 12 digits (`98000000000001`, …),
spread in order over gateways `sim-gw-001`, `sim-gw-002`, … The seed picks profiles, phases
and rated powers.

A meters file is a JSON list of objects, one per meter::

    [
      {"address": "202601010100", "kind": "electricity", "phases": 1,
       "rated_power_kw": "8", "gateway": "GW-01"},
      {"address": "10260101000", "kind": "water", "phases": 1,
       "rated_power_kw": null, "gateway": "GW-01"}
    ]

`address` is required. `kind` is `electricity` (default) or `water`; `phases` 1 (default) or 3;
`rated_power_kw` (number, decimal string or null for the default) is the electricity meter's
rated power; `gateway` the gateway id (meters without one are spread over generated gateways).
Optional: `profile` (office, shop, dormitory, restaurant, water), `model` (Modbus map:
DDSY1352, DTSD1352, ADF400L), `rated_flow_m3_per_h` (water), and the starting register values
`energy_kwh` / `water_m3`. Any other key is an error.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from pathlib import Path

from submeter.simulator.meters import (
    ElectricityMeter,
    MeterKind,
    MeterSpec,
    WaterMeter,
    build_meter,
)
from submeter.simulator.profiles import Profile

GENERATED_GATEWAY_PREFIX = "sim-gw-"
ELECTRICITY_PROFILES = (Profile.OFFICE, Profile.SHOP, Profile.DORMITORY, Profile.RESTAURANT)
_FILE_KEYS = frozenset(
    {
        "address",
        "kind",
        "phases",
        "rated_power_kw",
        "gateway",
        "profile",
        "model",
        "rated_flow_m3_per_h",
        "energy_kwh",
        "water_m3",
    }
)


class MetersFileError(ValueError):
    pass


def generated_gateway_id(index: int) -> str:
    return f"{GENERATED_GATEWAY_PREFIX}{index + 1:03d}"


def generate_meter_specs(
    count: int, *, gateways: int = 1, water_share: float = 0.0, seed: int = 0
) -> list[MeterSpec]:
    """`count` meters, `water_share` of them water meters (spread evenly), in contiguous groups
    over `gateways` gateways."""
    if count < 0 or gateways < 1 or not 0 <= water_share <= 1:
        raise ValueError("need count ≥ 0, gateways ≥ 1 and 0 ≤ water share ≤ 1")
    rng = random.Random(f"meters:{seed}")
    specs: list[MeterSpec] = []
    electricity_count = water_count = 0
    for index in range(count):
        gateway = generated_gateway_id(index * gateways // count)
        is_water = int((index + 1) * water_share) > int(index * water_share)
        if is_water:
            water_count += 1
            specs.append(
                MeterSpec(
                    address=f"98{water_count:012d}",
                    kind=MeterKind.WATER,
                    rated_flow_m3_per_h=rng.choice((1.0, 1.5, 2.5)),
                    gateway=gateway,
                )
            )
            continue
        electricity_count += 1
        profile = rng.choice(ELECTRICITY_PROFILES)
        phases = 3 if rng.random() < 0.25 else 1
        rated_kw = rng.choice((20.0, 30.0, 40.0)) if phases == 3 else rng.choice((4.0, 6.0, 8.0))
        specs.append(
            MeterSpec(
                address=f"99{electricity_count:010d}",
                phases=phases,
                rated_power_kw=rated_kw,
                profile=profile,
                gateway=gateway,
            )
        )
    return specs


def parse_meter_specs(document: object) -> list[MeterSpec]:
    """A meters file's JSON document → specs; raises MetersFileError naming the entry."""
    if not isinstance(document, list):
        raise MetersFileError("a meters file holds a JSON list of meters")
    specs = [_parse_entry(entry, index) for index, entry in enumerate(document)]
    seen: set[str] = set()
    for spec in specs:
        if spec.address in seen:
            raise MetersFileError(f"meter {spec.address} is listed twice")
        seen.add(spec.address)
    return specs


def load_meters_file(path: str | Path) -> list[MeterSpec]:
    try:
        document = json.loads(Path(path).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise MetersFileError(f"{path}: {exc}") from exc
    return parse_meter_specs(document)


def _parse_entry(entry: object, index: int) -> MeterSpec:
    where = f"meters[{index}]"
    if not isinstance(entry, dict):
        raise MetersFileError(f"{where} must be a JSON object")
    unknown = sorted(set(entry) - _FILE_KEYS)
    if unknown:
        raise MetersFileError(f"{where}.{unknown[0]} is not a known key")
    address = entry.get("address")
    if not isinstance(address, str) or not address:
        raise MetersFileError(f"{where}.address must be a non-empty string")
    try:
        return MeterSpec(
            address=address,
            kind=MeterKind(entry.get("kind") or MeterKind.ELECTRICITY),
            phases=int(entry.get("phases") or 1),
            rated_power_kw=_optional_float(entry.get("rated_power_kw")),
            rated_flow_m3_per_h=_optional_float(entry.get("rated_flow_m3_per_h")),
            profile=Profile(entry["profile"]) if entry.get("profile") else None,
            gateway=_optional_text(entry.get("gateway")),
            model=_optional_text(entry.get("model")),
            energy_kwh=_optional_decimal(entry.get("energy_kwh")),
            water_m3=_optional_decimal(entry.get("water_m3")),
        )
    except (ValueError, TypeError) as exc:
        raise MetersFileError(f"{where} ({address}): {exc}") from None


def _optional_float(value: object) -> float | None:
    decimal = _optional_decimal(value)
    return None if decimal is None else float(decimal)


def _optional_decimal(value: object) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(f"{value!r} is not a number")
    try:
        decimal = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not decimal.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    return decimal


def _optional_text(value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise TypeError(f"{value!r} is not a string")
    return value


def assign_gateways(specs: Iterable[MeterSpec], gateways: int = 1) -> dict[str, list[str]]:
    """Gateway id → meter addresses, in file order. Meters without a gateway are spread in
    contiguous groups over `gateways` generated gateways."""
    specs = list(specs)
    unassigned_count = sum(1 for spec in specs if spec.gateway is None)
    groups: dict[str, list[str]] = {}
    position = 0
    for spec in specs:
        gateway = spec.gateway
        if gateway is None:
            gateway = generated_gateway_id(position * gateways // unassigned_count)
            position += 1
        groups.setdefault(gateway, []).append(spec.address)
    return groups


def build_meters(specs: Iterable[MeterSpec], seed: int = 0) -> list[ElectricityMeter | WaterMeter]:
    return [build_meter(spec, seed) for spec in specs]
