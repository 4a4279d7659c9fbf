"""Money: `Decimal` only, whole fen at posting, half-up, with the sub-fen remainder carried.

One rounding helper (`round_fen`), one rounding mode (`ROUND_HALF_UP`: 0.005 goes up to 0.01,
-0.005 goes to -0.01, i.e. halves go away from zero, as 四舍五入 does).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal

from submeter.engine.errors import EngineError

FEN = Decimal("0.01")
ZERO_FEN = Decimal("0.00")
PRICE_MAX_PLACES = 6
"""Unit prices keep at most this many decimal places."""

EXACT = Context(prec=80)
"""Arithmetic context wide enough that every sum and product of bill quantities is exact."""


def round_fen(amount: Decimal) -> Decimal:
    """Round an exact amount half-up to the fen (0.01); never returns -0.00."""
    rounded = amount.quantize(FEN, rounding=ROUND_HALF_UP, context=EXACT)
    return rounded.copy_abs() if rounded.is_zero() else rounded


def is_whole_fen(amount: Decimal) -> bool:
    return amount == round_fen(amount)


class FenRounder:
    """Turns a stream of exact amounts into whole-fen postings, carrying the sub-fen remainder.

    After any number of `post` calls, the sum of the postings returned equals
    `round_fen(sum of the exact amounts fed)`: posting every day through one rounder gives, to the
    fen, the amount computed once for the month. Keep one rounder per bill line (see
    `LineRounder`) so that the postings also match a bill whose lines are rounded one by one.
    The state is two decimals; store them and pass them back to resume.
    """

    def __init__(self, exact_total: Decimal = ZERO_FEN, posted_total: Decimal = ZERO_FEN) -> None:
        if not is_whole_fen(posted_total):
            raise EngineError("not_whole_fen", "posted total must be whole fen", "posted_total")
        self.exact_total = exact_total
        self.posted_total = posted_total

    @property
    def carry(self) -> Decimal:
        """The exact amount fed but not yet posted (between -0.005 and 0.005)."""
        return EXACT.subtract(self.exact_total, self.posted_total)

    def post(self, exact_amount: Decimal) -> Decimal:
        """Feed one exact amount; return the whole-fen amount to post now (may be 0.00)."""
        self.exact_total = EXACT.add(self.exact_total, exact_amount)
        target = round_fen(self.exact_total)
        posting = EXACT.subtract(target, self.posted_total)
        self.posted_total = target
        return posting


class LineRounder:
    """One `FenRounder` per key (a bill line code, a meter and line, ...)."""

    def __init__(self) -> None:
        self.rounders: dict[str, FenRounder] = {}

    def post(self, key: str, exact_amount: Decimal) -> Decimal:
        rounder = self.rounders.setdefault(key, FenRounder())
        return rounder.post(exact_amount)

    @property
    def posted_total(self) -> Decimal:
        return sum((r.posted_total for r in self.rounders.values()), ZERO_FEN)


@dataclass(frozen=True, slots=True)
class TopupSplit:
    """A top-up cut into what the tenant's wallet receives and the service fee kept back."""

    amount: Decimal
    credit: Decimal
    fee: Decimal


def split_topup(amount: Decimal, fee_percent: Decimal) -> TopupSplit:
    """Split a paid top-up `amount` into wallet credit and a service fee of `fee_percent` %.

    The fee is taken out of the amount (the tenant pays 100.00, the wallet gets 100.00 - fee).
    The fee is `amount * fee_percent / 100` rounded half-up to the fen and the credit is the
    remainder, so the fee side takes the rounding and credit + fee == amount exactly.
    """
    if not amount.is_finite() or amount <= 0 or not is_whole_fen(amount):
        raise EngineError(
            "invalid_amount", "top-up amount must be a positive whole-fen amount", "amount"
        )
    if not fee_percent.is_finite() or fee_percent < 0 or fee_percent >= 100:
        raise EngineError(
            "invalid_fee_percent", "service fee must be at least 0 and below 100 %", "fee_percent"
        )
    fee = round_fen(EXACT.divide(EXACT.multiply(amount, fee_percent), Decimal(100)))
    return TopupSplit(amount=amount, credit=amount - fee, fee=fee)
