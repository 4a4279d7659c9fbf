"""Modbus register maps as data, and pure functions between register words and Decimals.

Addresses are protocol addresses as printed in meter manuals (0-based, holding registers read
with function 03H). pymodbus 3.16 data blocks start at 1, so a simulator stores the word of
address `a` at block index `a + 1`; that offset is the simulator's business, not the map's.

A register whose `assumed` flag is set was not found in a manual (DOMAIN §7.2): its address,
type or scale is this project's own choice, which the simulator implements. Replace it with the
vendor's table before driving a real meter.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from itertools import pairwise
from types import MappingProxyType

from submeter.protocols.errors import InvalidValue
from submeter.protocols.measurement_kind import MeasurementKind

MAX_READ_COUNT = 125
"""Most registers one 03H request may read."""


class DataType(StrEnum):
    UINT16 = "uint16"
    INT16 = "int16"
    UINT32 = "uint32"
    INT32 = "int32"
    FLOAT32 = "float32"

    @property
    def word_count(self) -> int:
        return 1 if self in (DataType.UINT16, DataType.INT16) else 2


class WordOrder(StrEnum):
    HIGH_FIRST = "high_first"
    """The high word at the lower address (big-endian; what Acrel meters use)."""
    LOW_FIRST = "low_first"


class Access(StrEnum):
    READ = "read"
    READ_WRITE = "read_write"


_INTEGER_RANGES = {
    DataType.UINT16: (0, 0xFFFF),
    DataType.INT16: (-0x8000, 0x7FFF),
    DataType.UINT32: (0, 0xFFFF_FFFF),
    DataType.INT32: (-0x8000_0000, 0x7FFF_FFFF),
}


@dataclass(frozen=True, slots=True)
class Register:
    """One value in a register map: value = raw × scale, in `unit`."""

    name: str
    name_zh: str
    address: int
    data_type: DataType
    scale: Decimal
    unit: str
    kind: MeasurementKind
    access: Access = Access.READ
    word_order: WordOrder = WordOrder.HIGH_FIRST
    assumed: bool = False

    @property
    def count(self) -> int:
        """How many 16-bit registers the value occupies."""
        return self.data_type.word_count


@dataclass(frozen=True, slots=True)
class RegisterSpan:
    """One read request: `count` registers from `address`."""

    address: int
    count: int


@dataclass(frozen=True, slots=True)
class RegisterMap:
    model: str
    source: str
    registers: tuple[Register, ...]

    def __post_init__(self) -> None:
        names = [register.name for register in self.registers]
        if len(set(names)) != len(names):
            raise InvalidValue(f"{self.model}: duplicate register names")
        ordered = sorted(self.registers, key=lambda register: register.address)
        for before, after in pairwise(ordered):
            if before.address + before.count > after.address:
                raise InvalidValue(f"{self.model}: {before.name} overlaps {after.name}")

    def register(self, name: str) -> Register:
        for register in self.registers:
            if register.name == name:
                return register
        raise KeyError(f"{self.model} has no register {name!r}")

    def read_spans(
        self, max_gap: int = 0, max_count: int = MAX_READ_COUNT
    ) -> tuple[RegisterSpan, ...]:
        """Group the registers into as few reads as possible, bridging gaps of `max_gap`."""
        spans: list[RegisterSpan] = []
        for register in sorted(self.registers, key=lambda register: register.address):
            end = register.address + register.count
            if spans:
                last = spans[-1]
                gap = register.address - (last.address + last.count)
                if gap <= max_gap and end - last.address <= max_count:
                    spans[-1] = RegisterSpan(last.address, end - last.address)
                    continue
            spans.append(RegisterSpan(register.address, register.count))
        return tuple(spans)


def decode_register(register: Register, words: Sequence[int]) -> Decimal:
    """The register's words (in address order) → its value × scale."""
    if len(words) != register.count:
        raise InvalidValue(f"{register.name} needs {register.count} words, got {len(words)}")
    for word in words:
        if not 0 <= word <= 0xFFFF:
            raise InvalidValue(f"{register.name}: {word} is not a 16-bit word")
    ordered = list(words) if register.word_order is WordOrder.HIGH_FIRST else list(words)[::-1]
    raw_bytes = b"".join(word.to_bytes(2, "big") for word in ordered)
    if register.data_type is DataType.FLOAT32:
        return _float32_to_decimal(register, raw_bytes) * register.scale
    signed = register.data_type in (DataType.INT16, DataType.INT32)
    return Decimal(int.from_bytes(raw_bytes, "big", signed=signed)) * register.scale


def encode_register(register: Register, value: Decimal) -> tuple[int, ...]:
    """A value → the register's words in address order. Refuses values that need rounding
    (except float32, which stores the nearest float)."""
    if not value.is_finite():
        raise InvalidValue(f"{register.name}: {value} is not a finite number")
    raw = value / register.scale
    if register.data_type is DataType.FLOAT32:
        try:
            raw_bytes = struct.pack(">f", float(raw))
        except OverflowError:
            raw_bytes = b""
        if not raw_bytes or not math.isfinite(struct.unpack(">f", raw_bytes)[0]):
            raise InvalidValue(f"{register.name}: {value} does not fit a float32")
    else:
        if raw != raw.to_integral_value():
            raise InvalidValue(f"{register.name}: {value} is not a multiple of {register.scale}")
        low, high = _INTEGER_RANGES[register.data_type]
        if not low <= raw <= high:
            raise InvalidValue(f"{register.name}: {value} is out of range for {register.data_type}")
        raw_bytes = int(raw).to_bytes(register.count * 2, "big", signed=low < 0)
    words = tuple(int.from_bytes(raw_bytes[i : i + 2], "big") for i in range(0, len(raw_bytes), 2))
    return words if register.word_order is WordOrder.HIGH_FIRST else words[::-1]


def decode_registers(
    register_map: RegisterMap, start_address: int, words: Sequence[int]
) -> dict[str, Decimal]:
    """Decode every register of the map that lies wholly inside the words read from
    `start_address`."""
    end_address = start_address + len(words)
    values: dict[str, Decimal] = {}
    for register in register_map.registers:
        offset = register.address - start_address
        if offset >= 0 and register.address + register.count <= end_address:
            values[register.name] = decode_register(
                register, words[offset : offset + register.count]
            )
    return values


def encode_registers(register_map: RegisterMap, values: Mapping[str, Decimal]) -> dict[int, int]:
    """Values by register name → {address: word}, e.g. to load a simulator's data block."""
    words: dict[int, int] = {}
    for name, value in values.items():
        register = register_map.register(name)
        for offset, word in enumerate(encode_register(register, value)):
            words[register.address + offset] = word
    return words


def _float32_to_decimal(register: Register, raw_bytes: bytes) -> Decimal:
    """The shortest decimal that reads back as the same float32 (so 220.1 stays 220.1)."""
    (number,) = struct.unpack(">f", raw_bytes)
    if not math.isfinite(number):
        raise InvalidValue(f"{register.name}: float32 {raw_bytes.hex()} is not a finite number")
    for digits in range(1, 10):
        text = f"{number:.{digits}g}"
        if struct.pack(">f", float(text)) == raw_bytes:
            return Decimal(text)
    return Decimal(repr(number))


# --- Maps ---------------------------------------------------------------------------------

_KWH = Decimal("0.01")
_CUMULATIVE = MeasurementKind.CUMULATIVE
_INSTANT = MeasurementKind.INSTANTANEOUS
_STATE = MeasurementKind.STATE
_SETTING = MeasurementKind.SETTING

RELAY_CLOSED = Decimal(0)
"""Value of the (assumed) relay register when supply is on; write it to close."""
RELAY_OPEN = Decimal(1)
"""Value of the (assumed) relay register when tripped; write it to trip."""


def _energy(name: str, name_zh: str, address: int) -> Register:
    return Register(name, name_zh, address, DataType.UINT32, _KWH, "kWh", _CUMULATIVE)


_RATE_REGISTERS = (("rate1", "尖"), ("rate2", "峰"), ("rate3", "平"), ("rate4", "谷"))


def _prepaid_controls(base: int) -> tuple[Register, ...]:
    """Our simulator's own prepaid registers (DOMAIN §7.2: the real ones were not found)."""
    return (
        Register(
            "remaining_money_cny",
            "剩余金额",
            base,
            DataType.INT32,
            Decimal("0.01"),
            "CNY",
            _INSTANT,
            Access.READ_WRITE,
            assumed=True,
        ),
        Register(
            "relay_state",
            "继电器状态 (0 合 / 1 断)",
            base + 2,
            DataType.UINT16,
            Decimal(1),
            "",
            _STATE,
            Access.READ_WRITE,
            assumed=True,
        ),
        Register(
            "protect_state",
            "保电状态 (0 否 / 1 保电)",
            base + 3,
            DataType.UINT16,
            Decimal(1),
            "",
            _STATE,
            Access.READ_WRITE,
            assumed=True,
        ),
        Register(
            "price_cny_per_kwh",
            "电价",
            base + 4,
            DataType.UINT32,
            Decimal("0.0001"),
            "CNY/kWh",
            _SETTING,
            Access.READ_WRITE,
            assumed=True,
        ),
        Register(
            "power_limit_kw",
            "功率限值",
            base + 6,
            DataType.UINT32,
            Decimal("0.001"),
            "kW",
            _SETTING,
            Access.READ_WRITE,
            assumed=True,
        ),
    )


def _three_phase_prepaid_registers() -> tuple[Register, ...]:
    """0000H is combined (组合) energy; 000AH forward (正向), the register that is billed."""
    registers = [_energy("combined_energy_kwh", "当前总有功电能", 0x0000)]
    registers += [
        _energy(f"combined_energy_{rate}_kwh", f"{zh}电能", 0x0002 + 2 * index)
        for index, (rate, zh) in enumerate(_RATE_REGISTERS)
    ]
    registers.append(_energy("energy_kwh", "正向有功总电能", 0x000A))
    registers += [
        _energy(f"energy_{rate}_kwh", f"正向{zh}电能", 0x000C + 2 * index)
        for index, (rate, zh) in enumerate(_RATE_REGISTERS)
    ]
    for index, phase in enumerate("abc"):
        registers.append(
            Register(
                f"voltage_{phase}_v",
                f"{phase.upper()}相电压",
                0x0061 + index,
                DataType.UINT16,
                Decimal("0.1"),
                "V",
                _INSTANT,
                assumed=True,
            )
        )
    for index, phase in enumerate("abc"):
        registers.append(
            Register(
                f"current_{phase}_a",
                f"{phase.upper()}相电流",
                0x0064 + index,
                DataType.UINT16,
                Decimal("0.01"),
                "A",
                _INSTANT,
                assumed=True,
            )
        )
    registers += [
        Register(
            "power_kw",
            "总有功功率",
            0x0067,
            DataType.INT32,
            Decimal("0.001"),
            "kW",
            _INSTANT,
            assumed=True,
        ),
        Register(
            "power_factor",
            "总功率因数",
            0x0069,
            DataType.INT16,
            Decimal("0.001"),
            "",
            _INSTANT,
            assumed=True,
        ),
    ]
    registers += _prepaid_controls(0x0200)
    return tuple(registers)


DTSD1352_MAP = RegisterMap(
    model="Acrel DTSD1352 (three-phase prepaid)",
    source=(
        "Energy 0000H–0013H from the DTSD1352 manual address table (DOMAIN §7.1); voltage "
        "addresses 0061H–0063H from a public driver, scale assumed; currents, power, PF and the "
        "prepaid registers at 0200H are the simulator's own assumption (DOMAIN §7.2)."
    ),
    registers=_three_phase_prepaid_registers(),
)


def _single_phase_prepaid_registers() -> tuple[Register, ...]:
    registers = [_energy("energy_kwh", "当前总电能", 0x0000)]
    registers += [
        _energy(f"energy_{rate}_kwh", f"{zh}电能", 0x0002 + 2 * index)
        for index, (rate, zh) in enumerate(_RATE_REGISTERS)
    ]
    registers += [
        Register(
            "code", "代码", 0x000A, DataType.UINT16, Decimal(1), "", _SETTING, Access.READ_WRITE
        ),
        Register("voltage_a_v", "电压", 0x000B, DataType.UINT16, Decimal("0.1"), "V", _INSTANT),
        Register("current_a_a", "电流", 0x000C, DataType.UINT16, Decimal("0.01"), "A", _INSTANT),
        Register("power_kw", "有功功率", 0x000D, DataType.INT16, Decimal("0.001"), "kW", _INSTANT),
        Register(
            "apparent_power_kva",
            "视在功率",
            0x000F,
            DataType.UINT16,
            Decimal("0.001"),
            "kVA",
            _INSTANT,
        ),
        Register(
            "power_factor", "功率因数", 0x0010, DataType.INT16, Decimal("0.001"), "", _INSTANT
        ),
    ]
    registers += _prepaid_controls(0x0200)
    return tuple(registers)


DDSY1352_MAP = RegisterMap(
    model="Acrel DDSY1352 (single-phase prepaid)",
    source=(
        "0000H–0010H from the DDSY1352 manual table 8.1 (DOMAIN §7.1); the prepaid registers at "
        "0200H are the simulator's own assumption (DOMAIN §7.2)."
    ),
    registers=_single_phase_prepaid_registers(),
)


CIRCUIT_BASE_ADDRESS = 0x0100
CIRCUIT_STRIDE = 0x10


def circuit_register_name(circuit: int, quantity: str) -> str:
    """`circuit_03_energy_kwh`: the name of one circuit's register in a multi-circuit map."""
    return f"circuit_{circuit:02d}_{quantity}"


def multi_circuit_map(model: str, circuit_count: int) -> RegisterMap:
    """A multi-circuit meter (ADF400L-like): shared phase voltages, then per circuit n at
    0100H + (n − 1) × 10H: energy (uint32, 0.01 kWh), power (int32, 0.001 kW),
    current (uint16, 0.01 A), PF (int16, 0.001). The whole layout is assumed."""
    registers = [
        Register(
            f"voltage_{phase}_v",
            f"{phase.upper()}相电压",
            index,
            DataType.UINT16,
            Decimal("0.1"),
            "V",
            _INSTANT,
            assumed=True,
        )
        for index, phase in enumerate("abc")
    ]
    for circuit in range(1, circuit_count + 1):
        base = CIRCUIT_BASE_ADDRESS + (circuit - 1) * CIRCUIT_STRIDE
        layout = (
            ("energy_kwh", "电能", 0, DataType.UINT32, _KWH, "kWh", _CUMULATIVE),
            ("power_kw", "有功功率", 2, DataType.INT32, Decimal("0.001"), "kW", _INSTANT),
            ("current_a", "电流", 4, DataType.UINT16, Decimal("0.01"), "A", _INSTANT),
            ("power_factor", "功率因数", 5, DataType.INT16, Decimal("0.001"), "", _INSTANT),
        )
        for quantity, name_zh, offset, data_type, scale, unit, kind in layout:
            registers.append(
                Register(
                    circuit_register_name(circuit, quantity),
                    f"第{circuit}路{name_zh}",
                    base + offset,
                    data_type,
                    scale,
                    unit,
                    kind,
                    assumed=True,
                )
            )
    return RegisterMap(
        model=model,
        source="Simulator-defined layout; the ADF400L table was not found (DOMAIN §7.2).",
        registers=tuple(registers),
    )


ADF400L_CIRCUITS = 12
ADF400L_MAP = multi_circuit_map("Acrel ADF400L-like multi-circuit meter", ADF400L_CIRCUITS)

REGISTER_MAPS: Mapping[str, RegisterMap] = MappingProxyType(
    {"dtsd1352": DTSD1352_MAP, "ddsy1352": DDSY1352_MAP, "adf400l": ADF400L_MAP}
)
"""The maps by profile key, for meter models to refer to."""
