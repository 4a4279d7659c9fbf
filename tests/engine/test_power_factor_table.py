"""Power-factor adjustment tables of DOMAIN.md §1.2, every row, and the monthly PF."""

from decimal import Decimal

import pytest

from submeter.engine.errors import EngineError
from submeter.engine.power_factor import adjustment_percent, monthly_power_factor

# (PF, std 0.90, std 0.85, std 0.80) exactly as DOMAIN.md §1.2 lists them.
DOMAIN_TABLE = [
    ("0.94", "-0.60", "-1.10", "-1.30"),
    ("0.93", "-0.45", "-0.95", "-1.30"),
    ("0.92", "-0.30", "-0.80", "-1.30"),
    ("0.91", "-0.15", "-0.65", "-1.15"),
    ("0.90", "0", "-0.50", "-1.00"),
    ("0.89", "0.5", "-0.40", "-0.90"),
    ("0.88", "1.0", "-0.30", "-0.80"),
    ("0.87", "1.5", "-0.20", "-0.70"),
    ("0.86", "2.0", "-0.10", "-0.60"),
    ("0.85", "2.5", "0", "-0.50"),
    ("0.84", "3.0", "0.5", "-0.40"),
    ("0.83", "3.5", "1.0", "-0.30"),
    ("0.82", "4.0", "1.5", "-0.20"),
    ("0.81", "4.5", "2.0", "-0.10"),
    ("0.80", "5.0", "2.5", "0"),
    ("0.79", "5.5", "3.0", "0.5"),
    ("0.75", "7.5", "5.0", "2.5"),
    ("0.70", "10.0", "7.5", "5.0"),
    ("0.69", "11", "8.0", "5.5"),
    ("0.66", "14", "9.5", "7.0"),
    ("0.65", "15", "10.0", "7.5"),
    ("0.64", "17", "11", "8.0"),
    ("0.60", "25", "15", "10.0"),
    ("0.59", "27", "17", "11"),
    ("0.55", "35", "25", "15"),
    ("0.54", "37", "27", "17"),
    ("0.50", "45", "35", "25"),
]
CAP_ROWS = [(f"{pf / 100:.2f}", "-0.75", "-1.10", "-1.30") for pf in range(95, 101)]
STANDARDS = ("0.90", "0.85", "0.80")


def table_cases():
    for row in CAP_ROWS + DOMAIN_TABLE:
        pf, *percents = row
        for standard, percent in zip(STANDARDS, percents, strict=True):
            yield pytest.param(standard, pf, percent, id=f"std{standard}-pf{pf}")


@pytest.mark.parametrize(("standard", "pf", "percent"), list(table_cases()))
def test_adjustment_percent_matches_domain_table_row(standard, pf, percent):
    assert adjustment_percent(Decimal(standard), Decimal(pf)) == Decimal(percent)


def test_monthly_power_factor_is_p_over_apparent_rounded_half_up():
    # 3 / 5 = 0.6 exactly
    assert monthly_power_factor(Decimal(3), Decimal(4)) == Decimal("0.60")


def test_monthly_power_factor_just_above_0_945_rounds_up_to_0_95():
    # 945 / sqrt(945² + 327²) = 0.94502...
    assert monthly_power_factor(Decimal(945), Decimal(327)) == Decimal("0.95")


def test_monthly_power_factor_just_below_0_945_rounds_down_to_0_94():
    # 945 / sqrt(945² + 328²) = 0.94471...
    assert monthly_power_factor(Decimal(945), Decimal(328)) == Decimal("0.94")


def test_monthly_power_factor_of_sample_bill_is_0_97():
    assert monthly_power_factor(Decimal("11870.7"), Decimal("3000")) == Decimal("0.97")


def test_monthly_power_factor_without_reactive_energy_is_one():
    assert monthly_power_factor(Decimal("100"), Decimal("0")) == Decimal("1.00")


def test_monthly_power_factor_without_any_energy_is_undefined():
    with pytest.raises(EngineError) as caught:
        monthly_power_factor(Decimal(0), Decimal(0))
    assert caught.value.code == "power_factor_undefined"


def test_power_factor_above_one_is_rejected():
    with pytest.raises(EngineError) as caught:
        adjustment_percent(Decimal("0.90"), Decimal("1.01"))
    assert caught.value.code == "power_factor_out_of_range"


def test_unknown_standard_is_rejected():
    with pytest.raises(EngineError) as caught:
        adjustment_percent(Decimal("0.95"), Decimal("0.90"))
    assert caught.value.code == "unknown_power_factor_standard"
