"""Packed BCD with the sign in the top bit of the last byte."""

from __future__ import annotations

from decimal import Decimal

import pytest

from submeter.protocols.bcd import bcd_to_decimal, bcd_to_int, decimal_to_bcd, int_to_bcd
from submeter.protocols.errors import InvalidValue


def test_bcd_is_read_low_byte_first() -> None:
    assert bcd_to_int(bytes.fromhex("56 34 12")) == 123456


def test_int_is_written_low_byte_first() -> None:
    assert int_to_bcd(123456, 4) == bytes.fromhex("56 34 12 00")


def test_non_bcd_nibble_is_refused() -> None:
    with pytest.raises(InvalidValue):
        bcd_to_int(b"\x1a")


def test_sign_bit_makes_the_value_negative() -> None:
    assert bcd_to_decimal(bytes.fromhex("45 23 81"), 4, signed=True) == Decimal("-1.2345")


def test_top_bit_is_a_digit_when_unsigned() -> None:
    assert bcd_to_decimal(bytes.fromhex("45 23 81"), 4, signed=False) == Decimal("81.2345")


def test_negative_zero_decodes_as_zero() -> None:
    assert str(bcd_to_decimal(bytes.fromhex("00 80"), 1, signed=True)) == "0.0"


def test_largest_signed_value_keeps_the_sign_bit_free() -> None:
    assert decimal_to_bcd(Decimal("-79.9999"), 3, 4, signed=True) == bytes.fromhex("99 99 F9")


def test_signed_value_needing_the_sign_bit_is_refused() -> None:
    with pytest.raises(InvalidValue):
        decimal_to_bcd(Decimal("80.0000"), 3, 4, signed=True)


def test_nan_is_refused() -> None:
    with pytest.raises(InvalidValue):
        decimal_to_bcd(Decimal("NaN"), 4, 2, signed=False)
