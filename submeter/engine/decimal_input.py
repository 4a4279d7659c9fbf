"""Reading decimal values from JSON documents: strings only, never JSON numbers."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Literal

from submeter.engine.errors import EngineError

DECIMAL_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?")
MAX_DIGITS = 24
"""Significant digits a decimal value may have: products and sums of such values stay well
inside the exact context (`money.EXACT`, 80 digits), so no amount is ever rounded by accident."""

Sign = Literal["positive", "non_negative", "any"]


def decimal_places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def read_decimal(
    value: object,
    field: str,
    error: type[EngineError],
    *,
    sign: Sign = "non_negative",
    max_places: int | None = None,
) -> Decimal:
    """Parse a decimal string such as "1.0606"; raise `error` naming `field` when it is not one."""
    if isinstance(value, bool) or not isinstance(value, str):
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise error(
                "number_not_string",
                f'decimal values are strings such as "{value}", not JSON numbers',
                field,
            )
        raise error("invalid_decimal", 'must be a decimal string such as "1.25"', field)
    if not DECIMAL_TEXT.fullmatch(value):
        raise error("invalid_decimal", f'{value!r} is not a decimal string such as "1.25"', field)
    number = Decimal(value)
    if len(number.as_tuple().digits) > MAX_DIGITS:
        raise error("too_many_digits", f"{value} has more than {MAX_DIGITS} digits", field)
    if max_places is not None and decimal_places(number) > max_places:
        raise error(
            "too_many_decimals", f"{value} has more than {max_places} decimal places", field
        )
    if sign == "positive" and number <= 0:
        raise error("not_positive", f"{value} must be greater than zero", field)
    if sign == "non_negative" and number < 0:
        raise error("negative", f"{value} must not be negative", field)
    return number
