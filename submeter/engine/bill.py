"""What rating produces: bill lines that each explain themselves, and their total."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from submeter.engine.money import ZERO_FEN


class LineKind(StrEnum):
    CONSUMPTION = "consumption"
    """Energy (kWh) or water (m³) at its price: flat, tiered or time-of-use (电度电费, 水费)."""
    SURCHARGE = "surcharge"
    """A per-unit amount collected with the bill (funds, sewage fee), outside the PF base."""
    BASIC = "basic"
    """Basic charge of a two-part tariff (基本电费), by capacity or demand."""
    POWER_FACTOR = "power_factor"
    """Power-factor adjustment (力调电费)."""


@dataclass(frozen=True, slots=True)
class BillLine:
    """One line of a bill. `amount_exact == quantity * unit_price`, `amount` is it to the fen."""

    code: str
    """Stable machine code, e.g. `energy.sharp`, `energy.tier2`, `basic.capacity`."""
    kind: LineKind
    label_zh: str
    label_en: str
    quantity: Decimal
    unit: str
    """Unit of `quantity`: kWh, m3, kVA, kW, or CNY for the power-factor line."""
    unit_price: Decimal
    """CNY per unit; for the power-factor line, the adjustment as a fraction (-0.0075)."""
    amount_exact: Decimal
    amount: Decimal
    rule: str
    """Which rule and inputs produced the line, in English."""
    tariff_version: datetime
    """`valid_from` of the tariff version whose price was used."""


@dataclass(frozen=True, slots=True)
class PowerFactorOutcome:
    """How the power-factor line was reached."""

    standard: Decimal
    active_kwh: Decimal | None
    reactive_kvarh: Decimal | None
    power_factor: Decimal
    adjustment_percent: Decimal
    base: Decimal
    """Sum of the rounded amounts of the lines the adjustment applies to."""


@dataclass(frozen=True, slots=True)
class Bill:
    tariff_id: str
    unit: str
    """Unit of consumption: kWh or m3."""
    lines: tuple[BillLine, ...]
    power_factor: PowerFactorOutcome | None

    @property
    def total(self) -> Decimal:
        """The sum of the rounded line amounts, whole fen."""
        return sum((line.amount for line in self.lines), ZERO_FEN)

    def subtotal(self, kind: LineKind) -> Decimal:
        return sum((line.amount for line in self.lines if line.kind == kind), ZERO_FEN)
