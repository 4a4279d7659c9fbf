"""The acceptance bill of DOMAIN.md §1.4 (yundianfu FAQ 电费类 §7), line by line."""

import json
from decimal import Decimal
from pathlib import Path

import pytest

from submeter.engine import LineKind, parse_tariff, parse_usage, quote, rate

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "sample-bill"


def load(name: str) -> dict:
    return json.loads((SAMPLE / name).read_text(encoding="utf-8"))


def sample_bill():
    tariff = parse_tariff(load("tariff.json"))
    return rate(tariff, parse_usage(load("usage.json"), tariff))


@pytest.mark.parametrize(
    ("code", "quantity", "unit_price", "exact", "rounded"),
    [
        ("energy.sharp", "1985.1", "1.0606", "2105.39706", "2105.40"),
        ("energy.peak", "3359.1", "0.8876", "2981.53716", "2981.54"),
        ("energy.flat", "603.9", "0.705", "425.7495", "425.75"),
        ("energy.valley", "5922.6", "0.4038", "2391.54588", "2391.55"),
        ("basic.capacity", "400", "30", "12000", "12000.00"),
        ("power_factor", "19904.24", "-0.0075", "-149.2818", "-149.28"),
    ],
)
def test_sample_bill_line_matches_domain_table(code, quantity, unit_price, exact, rounded):
    (line,) = [line for line in sample_bill().lines if line.code == code]
    assert line.quantity == Decimal(quantity)
    assert line.unit_price == Decimal(unit_price)
    assert line.amount_exact == Decimal(exact)
    assert str(line.amount) == rounded


def test_sample_bill_has_exactly_the_six_lines_in_bill_order():
    assert [line.code for line in sample_bill().lines] == [
        "energy.sharp",
        "energy.peak",
        "energy.flat",
        "energy.valley",
        "basic.capacity",
        "power_factor",
    ]


def test_sample_bill_energy_subtotal_is_7904_24():
    assert sample_bill().subtotal(LineKind.CONSUMPTION) == Decimal("7904.24")


def test_sample_bill_power_factor_base_is_energy_plus_basic():
    outcome = sample_bill().power_factor
    assert outcome is not None
    assert outcome.base == Decimal("19904.24")
    assert outcome.adjustment_percent == Decimal("-0.75")
    assert Decimal("0.95") <= outcome.power_factor <= Decimal("1.00")


def test_sample_bill_total_is_19754_96():
    assert str(sample_bill().total) == "19754.96"


def test_sample_bill_labels_match_the_chinese_bill():
    labels = [line.label_zh for line in sample_bill().lines[:4]]
    assert labels == ["尖电费", "峰电费", "平电费", "谷电费"]


def test_quote_returns_amounts_as_strings():
    bill = quote(load("tariff.json"), load("usage.json"))
    assert bill["total"] == "19754.96"
    assert bill["subtotals"] == {
        "consumption": "7904.24",
        "basic": "12000.00",
        "power_factor": "-149.28",
    }
    assert all(isinstance(line["amount"], str) for line in bill["lines"])


def test_every_sample_line_amount_is_quantity_times_unit_price():
    for line in sample_bill().lines:
        assert line.amount_exact == line.quantity * line.unit_price
