"""Tiered (阶梯) prices on cumulative usage within a month or a year."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from submeter.engine.money import EXACT


@dataclass(frozen=True, slots=True)
class Tier:
    """Usage above the previous tier's bound and up to `up_to` (None: no bound) costs `price`.

    For tier increments on top of a time-of-use price, `price` is the increment per unit.
    """

    up_to: Decimal | None
    price: Decimal


@dataclass(frozen=True, slots=True)
class TierSlice:
    number: int
    """1 for the first tier."""
    quantity: Decimal
    usage_from: Decimal
    """Cumulative usage in the tier period where this slice starts."""
    usage_to: Decimal
    tier: Tier


def slice_into_tiers(
    tiers: tuple[Tier, ...], usage_before: Decimal, usage: Decimal
) -> tuple[TierSlice, ...]:
    """Cut `usage` into tiers, given `usage_before` already used earlier in the tier period.

    Only slices with a positive quantity are returned. The last tier must be unbounded.
    """
    start = usage_before
    end = EXACT.add(usage_before, usage)
    slices: list[TierSlice] = []
    lower = Decimal(0)
    for number, tier in enumerate(tiers, start=1):
        slice_from = max(start, lower)
        slice_to = end if tier.up_to is None else min(end, tier.up_to)
        if slice_to > slice_from:
            quantity = EXACT.subtract(slice_to, slice_from)
            slices.append(TierSlice(number, quantity, slice_from, slice_to, tier))
        if tier.up_to is None or tier.up_to >= end:
            break
        lower = tier.up_to
    return tuple(slices)
