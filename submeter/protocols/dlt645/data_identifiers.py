"""The DL/T 645-2007 data identifiers Submeter reads, as data, and their value codecs.

DI strings are DI3..DI0 as 8 hex digits, the way the standard's tables print them. Energy
identifiers follow `FFRRSS00`-style rules: DI1 is the rate (00 total, 01–08 rate n, FF block of
total and rates) and DI0 the settlement day (00 current, 01–0C the n-th previous one).
Rates 1–4 are 尖/峰/平/谷 by national-grid convention, but that is a meter setting, so the
names below keep the rate number.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import TypeAlias

from submeter.protocols.bcd import bcd_to_decimal, decimal_to_bcd
from submeter.protocols.dlt645.frame import normalize_data_identifier
from submeter.protocols.errors import FrameFormatError, InvalidValue, UnknownDataIdentifier
from submeter.protocols.measurement_kind import MeasurementKind
from submeter.protocols.meter_clock import (
    CENTURY,
    bcd_fields,
    fields_to_bcd,
    meter_time_or_none,
    to_meter_wall_time,
)


class ValueFormat(StrEnum):
    NUMBER = "number"
    """One BCD number of `length` bytes."""
    NUMBER_BLOCK = "number_block"
    """Several numbers of `length` bytes each (total first, then rate 1, 2, …)."""
    MAXIMUM_DEMAND = "maximum_demand"
    """XX.XXXX kW followed by the time YYMMDDhhmm."""
    DATETIME = "datetime"
    """YYMMDDhhmmss."""
    STATUS_WORD_3 = "status_word_3"
    """运行状态字3: relay state bits."""
    DIGITS = "digits"
    """BCD digits kept as text (addresses, date fields)."""


@dataclass(frozen=True, slots=True)
class DataItem:
    """What one data identifier holds. `length` is in bytes (per element for a block)."""

    data_identifier: str
    name_zh: str
    name_en: str
    length: int
    decimals: int
    signed: bool
    unit: str
    kind: MeasurementKind
    value_format: ValueFormat = ValueFormat.NUMBER


class PrepaidType(StrEnum):
    """Bits 8–9 of status word 3."""

    NONE = "none"
    ENERGY = "energy"
    MONEY = "money"
    RESERVED = "reserved"


_PREPAID_TYPES = (PrepaidType.NONE, PrepaidType.ENERGY, PrepaidType.MONEY, PrepaidType.RESERVED)


@dataclass(frozen=True, slots=True)
class StatusWord3:
    """电表运行状态字3 (04000503). Bit meanings per DOMAIN §5.2."""

    raw: int

    @property
    def relay_open(self) -> bool:
        """Bit 4: the relay is open (断, supply cut)."""
        return bool(self.raw & 0x0010)

    @property
    def relay_command_open(self) -> bool:
        """Bit 6: the last relay command was to open."""
        return bool(self.raw & 0x0040)

    @property
    def pre_trip_alarm(self) -> bool:
        """Bit 7: 预跳闸报警."""
        return bool(self.raw & 0x0080)

    @property
    def prepaid_type(self) -> PrepaidType:
        """Bits 8–9: 00 not prepaid, 01 energy (电量型), 10 money (电费型)."""
        return _PREPAID_TYPES[(self.raw >> 8) & 0x03]

    @property
    def protected(self) -> bool:
        """Bit 12: 保电 is set (the meter will not trip)."""
        return bool(self.raw & 0x1000)


@dataclass(frozen=True, slots=True)
class MaximumDemand:
    demand_kw: Decimal
    occurred_at: datetime | None


DataValue: TypeAlias = (
    Decimal | tuple[Decimal, ...] | MaximumDemand | StatusWord3 | datetime | str | None
)
"""Decoded value of a data item; which type depends on `DataItem.value_format`."""


def _energy_families() -> Iterator[tuple[str, str, str, str, bool]]:
    yield "0000", "组合有功", "combined active energy", "kWh", True
    yield "0001", "正向有功", "forward active energy", "kWh", False
    yield "0002", "反向有功", "reverse active energy", "kWh", False
    yield "0003", "组合无功1", "combined reactive energy 1", "kvarh", True
    yield "0004", "组合无功2", "combined reactive energy 2", "kvarh", True


_RATE_NAMES_ZH = {1: "费率1(尖)", 2: "费率2(峰)", 3: "费率3(平)", 4: "费率4(谷)"}
RATE_COUNT = 8
SETTLEMENT_DAYS = 12


def _period_names(settlement: int) -> tuple[str, str]:
    if settlement == 0:
        return "当前", ""
    return f"上{settlement}结算日", f", settlement day -{settlement}"


def _rate_names(rate: int) -> tuple[str, str]:
    if rate == 0:
        return "总", "total"
    if rate == 0xFF:
        return "数据块", "block (total and rates)"
    return _RATE_NAMES_ZH.get(rate, f"费率{rate}"), f"rate {rate}"


def _energy_items() -> Iterator[DataItem]:
    for prefix, family_zh, family_en, unit, signed in _energy_families():
        for settlement in range(SETTLEMENT_DAYS + 1):
            period_zh, period_en = _period_names(settlement)
            for rate in (*range(RATE_COUNT + 1), 0xFF):
                rate_zh, rate_en = _rate_names(rate)
                yield DataItem(
                    data_identifier=f"{prefix}{rate:02X}{settlement:02X}",
                    name_zh=f"{period_zh}{family_zh}{rate_zh}电能",
                    name_en=f"{family_en} {rate_en}{period_en}",
                    length=4,
                    decimals=2,
                    signed=signed,
                    unit=unit,
                    kind=MeasurementKind.CUMULATIVE,
                    value_format=ValueFormat.NUMBER_BLOCK if rate == 0xFF else ValueFormat.NUMBER,
                )


def _demand_items() -> Iterator[DataItem]:
    for prefix, family_zh, family_en in (
        ("0101", "正向有功", "forward"),
        ("0102", "反向有功", "reverse"),
    ):
        for settlement in range(SETTLEMENT_DAYS + 1):
            period_zh, period_en = _period_names(settlement)
            for rate in range(RATE_COUNT + 1):
                rate_zh, rate_en = _rate_names(rate)
                yield DataItem(
                    data_identifier=f"{prefix}{rate:02X}{settlement:02X}",
                    name_zh=f"{period_zh}{family_zh}{rate_zh}最大需量及发生时间",
                    name_en=f"{family_en} active maximum demand {rate_en}{period_en}",
                    length=8,
                    decimals=4,
                    signed=False,
                    unit="kW",
                    kind=MeasurementKind.INSTANTANEOUS,
                    value_format=ValueFormat.MAXIMUM_DEMAND,
                )


def _instantaneous_items() -> Iterator[DataItem]:
    families = (
        # DI3 DI2, name_zh, name_en, bytes, decimals, signed, unit, has a total (DI1 = 00)
        ("0201", "电压", "voltage", 2, 1, False, "V", False),
        ("0202", "电流", "current", 3, 3, True, "A", False),
        ("0203", "有功功率", "active power", 3, 4, True, "kW", True),
        ("0204", "无功功率", "reactive power", 3, 4, True, "kvar", True),
        ("0205", "视在功率", "apparent power", 3, 4, True, "kVA", True),
        ("0206", "功率因数", "power factor", 2, 3, True, "", True),
    )
    for prefix, name_zh, name_en, length, decimals, signed, unit, has_total in families:
        parts = [(1, "A相", "phase A"), (2, "B相", "phase B"), (3, "C相", "phase C")]
        if has_total:
            parts.insert(0, (0, "总", "total"))
        parts.append((0xFF, "数据块", "block"))
        for part, part_zh, part_en in parts:
            yield DataItem(
                data_identifier=f"{prefix}{part:02X}00",
                name_zh=f"{part_zh}{name_zh}" if part else f"瞬时总{name_zh}",
                name_en=f"{name_en} {part_en}",
                length=length,
                decimals=decimals,
                signed=signed,
                unit=unit,
                kind=MeasurementKind.INSTANTANEOUS,
                value_format=ValueFormat.NUMBER_BLOCK if part == 0xFF else ValueFormat.NUMBER,
            )


_INSTANT = MeasurementKind.INSTANTANEOUS
_SETTING = MeasurementKind.SETTING
_STATE = MeasurementKind.STATE
_NUMBER = ValueFormat.NUMBER
_DIGITS = ValueFormat.DIGITS
_DATETIME = ValueFormat.DATETIME
_STATUS = ValueFormat.STATUS_WORD_3

_SINGLE_ITEM_ROWS = (
    # DI, name_zh, name_en, bytes, decimals, unit, kind, format (all unsigned)
    ("02800002", "电网频率", "grid frequency", 2, 2, "Hz", _INSTANT, _NUMBER),
    ("00900100", "当前剩余电量", "remaining energy", 4, 2, "kWh", _INSTANT, _NUMBER),
    ("00900101", "当前透支电量", "overdrawn energy", 4, 2, "kWh", _INSTANT, _NUMBER),
    ("00900200", "当前剩余金额", "remaining money", 4, 2, "CNY", _INSTANT, _NUMBER),
    ("00900201", "当前透支金额", "overdrawn money", 4, 2, "CNY", _INSTANT, _NUMBER),
    ("03330201", "上1次购电后总购电次数", "purchase count", 2, 0, "", _INSTANT, _NUMBER),
    ("04000101", "日期及星期", "date and weekday YYMMDDWW", 4, 0, "", _SETTING, _DIGITS),
    ("04000102", "时间", "time hhmmss", 3, 0, "", _SETTING, _DIGITS),
    ("04000103", "最大需量周期", "demand period", 1, 0, "min", _SETTING, _NUMBER),
    ("04000104", "滑差时间", "demand sliding window", 1, 0, "min", _SETTING, _NUMBER),
    ("04000401", "通信地址", "communication address", 6, 0, "", _SETTING, _DIGITS),
    ("04000402", "表号", "meter number", 6, 0, "", _SETTING, _DIGITS),
    ("04000503", "电表运行状态字3", "status word 3 (relay)", 2, 0, "", _STATE, _STATUS),
    ("04001001", "报警金额1限值", "alarm money limit 1", 4, 2, "CNY", _SETTING, _NUMBER),
    ("04001002", "报警金额2限值", "alarm money limit 2", 4, 2, "CNY", _SETTING, _NUMBER),
    ("04001003", "透支金额限值", "overdraft limit", 4, 2, "CNY", _SETTING, _NUMBER),
    ("04001004", "囤积金额限值", "hoarding limit", 4, 2, "CNY", _SETTING, _NUMBER),
    ("04001005", "合闸允许金额限值", "close-allowed money limit", 4, 2, "CNY", _SETTING, _NUMBER),
    ("04050101", "第一套费率1电价", "price rate 1, set 1", 4, 4, "CNY/kWh", _SETTING, _NUMBER),
    ("04050102", "第一套费率2电价", "price rate 2, set 1", 4, 4, "CNY/kWh", _SETTING, _NUMBER),
    ("04050103", "第一套费率3电价", "price rate 3, set 1", 4, 4, "CNY/kWh", _SETTING, _NUMBER),
    ("04050104", "第一套费率4电价", "price rate 4, set 1", 4, 4, "CNY/kWh", _SETTING, _NUMBER),
    ("1D000101", "上1次跳闸发生时刻", "last trip time", 6, 0, "", _STATE, _DATETIME),
    ("1E000101", "上1次合闸发生时刻", "last close time", 6, 0, "", _STATE, _DATETIME),
)


def _single_items() -> Iterator[DataItem]:
    for code, name_zh, name_en, length, decimals, unit, kind, value_format in _SINGLE_ITEM_ROWS:
        yield DataItem(code, name_zh, name_en, length, decimals, False, unit, kind, value_format)


def _all_items() -> Iterator[DataItem]:
    yield from _energy_items()
    yield from _demand_items()
    yield from _instantaneous_items()
    yield from _single_items()


DATA_ITEMS: Mapping[str, DataItem] = MappingProxyType(
    {item.data_identifier: item for item in _all_items()}
)
"""Every data identifier Submeter knows, by DI3..DI0 hex string."""


def data_item(data_identifier: str) -> DataItem:
    """The registry entry for a DI; raises UnknownDataIdentifier."""
    normalized = normalize_data_identifier(data_identifier)
    try:
        return DATA_ITEMS[normalized]
    except KeyError:
        raise UnknownDataIdentifier(normalized) from None


def decode_value(item: DataItem, payload: bytes, meter_tz: tzinfo) -> DataValue:
    """Payload bytes (de-scrambled, after the DI) → the item's value."""
    if item.value_format is ValueFormat.NUMBER_BLOCK:
        if not payload or len(payload) % item.length:
            raise FrameFormatError(
                f"{item.data_identifier}: block of {len(payload)} bytes is not a multiple "
                f"of {item.length}"
            )
        return tuple(
            bcd_to_decimal(payload[i : i + item.length], item.decimals, item.signed)
            for i in range(0, len(payload), item.length)
        )
    if len(payload) != item.length:
        raise FrameFormatError(
            f"{item.data_identifier}: value has {len(payload)} bytes, expected {item.length}"
        )
    if item.value_format is ValueFormat.NUMBER:
        return bcd_to_decimal(payload, item.decimals, item.signed)
    if item.value_format is ValueFormat.MAXIMUM_DEMAND:
        demand = bcd_to_decimal(payload[:3], item.decimals, item.signed)
        return MaximumDemand(demand_kw=demand, occurred_at=_decode_time(payload[3:], meter_tz))
    if item.value_format is ValueFormat.DATETIME:
        return _decode_time(payload, meter_tz)
    if item.value_format is ValueFormat.STATUS_WORD_3:
        return StatusWord3(raw=int.from_bytes(payload, "little"))
    digits = payload[::-1].hex()
    if not digits.isdigit():
        raise InvalidValue(f"{item.data_identifier}: {digits} is not BCD digits")
    return digits


def encode_value(item: DataItem, value: DataValue, meter_tz: tzinfo) -> bytes:
    """The inverse of `decode_value` (used by the simulator to build replies)."""
    fmt = item.value_format
    if fmt is ValueFormat.NUMBER_BLOCK and isinstance(value, tuple) and value:
        return b"".join(
            decimal_to_bcd(part, item.length, item.decimals, item.signed) for part in value
        )
    if fmt is ValueFormat.NUMBER and isinstance(value, Decimal):
        return decimal_to_bcd(value, item.length, item.decimals, item.signed)
    if fmt is ValueFormat.MAXIMUM_DEMAND and isinstance(value, MaximumDemand):
        demand = decimal_to_bcd(value.demand_kw, 3, item.decimals, item.signed)
        return demand + _encode_time(value.occurred_at, 5, meter_tz)
    if fmt is ValueFormat.DATETIME and (value is None or isinstance(value, datetime)):
        return _encode_time(value, item.length, meter_tz)
    if fmt is ValueFormat.STATUS_WORD_3 and isinstance(value, StatusWord3):
        if not 0 <= value.raw <= 0xFFFF:
            raise InvalidValue(f"status word {value.raw:#x} is not 16 bits")
        return value.raw.to_bytes(2, "little")
    if fmt is ValueFormat.DIGITS and isinstance(value, str):
        if len(value) != item.length * 2 or not value.isascii() or not value.isdigit():
            raise InvalidValue(
                f"{item.data_identifier} holds {item.length * 2} digits, not {value!r}"
            )
        return bytes.fromhex(value)[::-1]
    raise InvalidValue(f"{item.data_identifier} ({fmt}) cannot hold {value!r}")


def _decode_time(wire: bytes, meter_tz: tzinfo) -> datetime | None:
    """Low-byte-first time fields: (ss) mm hh DD MM YY."""
    fields = bcd_fields(wire[::-1])
    if fields is None:
        return None
    year, month, day, hour, minute, *rest = fields
    second = rest[0] if rest else 0
    return meter_time_or_none(CENTURY + year, month, day, hour, minute, second, meter_tz)


def _encode_time(at: datetime | None, length: int, meter_tz: tzinfo) -> bytes:
    if at is None:
        return bytes(length)
    local = to_meter_wall_time(at, meter_tz)
    fields = [local.year - CENTURY, local.month, local.day, local.hour, local.minute, local.second]
    return fields_to_bcd(fields[:length])[::-1]
