"""Service fee taken from a top-up: whole fen, the fee side takes the rounding."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from submeter.engine import EngineError, split_topup


def test_fee_is_taken_out_of_the_top_up():
    split = split_topup(Decimal("100.00"), Decimal("0.6"))
    assert (split.credit, split.fee) == (Decimal("99.40"), Decimal("0.60"))


def test_fee_is_rounded_half_up_and_credit_is_the_rest():
    # 0.6 % of 0.75 = 0.0045 -> fee 0.00; 0.6 % of 2.50 = 0.015 -> fee 0.02
    assert split_topup(Decimal("0.75"), Decimal("0.6")).fee == Decimal("0.00")
    split = split_topup(Decimal("2.50"), Decimal("0.6"))
    assert (split.credit, split.fee) == (Decimal("2.48"), Decimal("0.02"))


def test_zero_percent_fee_credits_everything():
    assert split_topup(Decimal("50.00"), Decimal(0)).credit == Decimal("50.00")


@given(
    st.decimals(min_value="0.01", max_value="100000", places=2),
    st.decimals(min_value=0, max_value="99.99", places=2),
)
def test_credit_plus_fee_is_exactly_the_top_up(amount, percent):
    split = split_topup(amount, percent)
    assert split.credit + split.fee == amount
    assert split.fee == split.fee.quantize(Decimal("0.01"))


def test_sub_fen_top_up_is_rejected():
    with pytest.raises(EngineError) as caught:
        split_topup(Decimal("10.001"), Decimal(1))
    assert (caught.value.code, caught.value.field) == ("invalid_amount", "amount")


def test_fee_of_100_percent_is_rejected():
    with pytest.raises(EngineError) as caught:
        split_topup(Decimal("10.00"), Decimal(100))
    assert caught.value.code == "invalid_fee_percent"
