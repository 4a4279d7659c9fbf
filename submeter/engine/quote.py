"""`quote(tariff_document, usage_document) -> bill document`: the engine for JSON callers.

The bill document has every amount and quantity as a string (see docs/tariffs.md).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from submeter.engine.bill import Bill, BillLine, LineKind
from submeter.engine.rating import rate
from submeter.engine.tariff_document import parse_tariff
from submeter.engine.usage import parse_usage


def decimal_text(value: Decimal) -> str:
    """A decimal as plain digits, never in exponent form."""
    return format(value, "f")


def quote(tariff_document: object, usage_document: object) -> dict[str, Any]:
    """Parse both documents, rate the usage and return the bill as a JSON-ready dict.

    Raises `TariffError` or `UsageError` (both `EngineError`) on bad input.
    """
    tariff = parse_tariff(tariff_document)
    return bill_document(rate(tariff, parse_usage(usage_document, tariff)))


def line_document(line: BillLine) -> dict[str, str]:
    return {
        "code": line.code,
        "kind": line.kind.value,
        "label_zh": line.label_zh,
        "label_en": line.label_en,
        "quantity": decimal_text(line.quantity),
        "unit": line.unit,
        "unit_price": decimal_text(line.unit_price),
        "amount_exact": decimal_text(line.amount_exact),
        "amount": decimal_text(line.amount),
        "rule": line.rule,
        "tariff_version": line.tariff_version.isoformat(),
    }


def bill_document(bill: Bill) -> dict[str, Any]:
    kinds = [kind for kind in LineKind if any(line.kind == kind for line in bill.lines)]
    outcome = bill.power_factor
    power_factor = None
    if outcome is not None:
        power_factor = {
            "standard": decimal_text(outcome.standard),
            "active_kwh": None if outcome.active_kwh is None else decimal_text(outcome.active_kwh),
            "reactive_kvarh": (
                None if outcome.reactive_kvarh is None else decimal_text(outcome.reactive_kvarh)
            ),
            "power_factor": decimal_text(outcome.power_factor),
            "adjustment_percent": decimal_text(outcome.adjustment_percent),
            "base": decimal_text(outcome.base),
        }
    return {
        "tariff_id": bill.tariff_id,
        "currency": "CNY",
        "unit": bill.unit,
        "lines": [line_document(line) for line in bill.lines],
        "subtotals": {kind.value: decimal_text(bill.subtotal(kind)) for kind in kinds},
        "power_factor": power_factor,
        "total": decimal_text(bill.total),
    }
