"""Power-factor adjustment (力调电费) per 《功率因数调整电费办法》 (83)水电财字第215号.

The monthly power factor is P / sqrt(P² + Q²) from the month's active energy P (kWh) and
reactive energy Q (kvarh), rounded half-up to 0.01, then looked up in the table of the customer's
standard (0.90, 0.85 or 0.80). The result is a percentage of the month's energy + basic charge:
positive is a surcharge (增收), negative a reduction (减收).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from submeter.engine.errors import EngineError
from submeter.engine.money import EXACT

PF_STEP = Decimal("0.01")
STANDARDS = (Decimal("0.90"), Decimal("0.85"), Decimal("0.80"))

# For each standard (in hundredths): the PF from which the reduction stops growing, and the cap.
REDUCTION_CAP = {90: (95, Decimal("0.75")), 85: (94, Decimal("1.10")), 80: (92, Decimal("1.30"))}
REDUCTION_PER_STEP_UP_TO_090 = Decimal("0.1")
REDUCTION_PER_STEP_ABOVE_090 = Decimal("0.15")
SURCHARGE_STEPS = (
    # (number of 0.01 steps below the standard, percent per step)
    (20, Decimal("0.5")),
    (5, Decimal("1")),
)
SURCHARGE_PER_FURTHER_STEP = Decimal("2")


def monthly_power_factor(active_kwh: Decimal, reactive_kvarh: Decimal) -> Decimal:
    """P / sqrt(P² + Q²), rounded half-up to 2 decimals."""
    if active_kwh < 0 or reactive_kvarh < 0:
        raise EngineError("negative_energy", "active and reactive energy must not be negative")
    if active_kwh == 0 and reactive_kvarh == 0:
        raise EngineError(
            "power_factor_undefined", "no active or reactive energy: power factor is undefined"
        )
    apparent = EXACT.sqrt(
        EXACT.add(
            EXACT.multiply(active_kwh, active_kwh), EXACT.multiply(reactive_kvarh, reactive_kvarh)
        )
    )
    ratio = EXACT.divide(active_kwh, apparent)
    return ratio.quantize(PF_STEP, rounding=ROUND_HALF_UP, context=EXACT)


def check_power_factor(pf: Decimal, field: str = "power_factor") -> None:
    if pf < 0 or pf > 1:
        raise EngineError("power_factor_out_of_range", f"{pf} is not between 0 and 1", field)
    if pf != pf.quantize(PF_STEP, context=EXACT):
        raise EngineError("power_factor_not_rounded", f"{pf} has more than 2 decimals", field)


def adjustment_percent(standard: Decimal, pf: Decimal) -> Decimal:
    """Percent of the PF base to add (positive) or take off (negative) for a monthly PF.

    `pf` must already be rounded to 0.01 (see `monthly_power_factor`).
    """
    if standard not in STANDARDS:
        raise EngineError("unknown_power_factor_standard", f"{standard} is not 0.90, 0.85 or 0.80")
    check_power_factor(pf)
    standard_steps = int(standard * 100)
    pf_steps = int(pf * 100)
    if pf_steps >= standard_steps:
        cap_from, cap = REDUCTION_CAP[standard_steps]
        if pf_steps >= cap_from:
            return -cap
        steps_up_to_090 = max(0, min(pf_steps, 90) - standard_steps)
        steps_above_090 = max(0, pf_steps - 90)
        return -(
            REDUCTION_PER_STEP_UP_TO_090 * steps_up_to_090
            + REDUCTION_PER_STEP_ABOVE_090 * steps_above_090
        )
    steps_below = standard_steps - pf_steps
    surcharge = Decimal(0)
    for band_steps, percent_per_step in SURCHARGE_STEPS:
        steps_in_band = min(steps_below, band_steps)
        surcharge += percent_per_step * steps_in_band
        steps_below -= steps_in_band
    return surcharge + SURCHARGE_PER_FURTHER_STEP * steps_below
