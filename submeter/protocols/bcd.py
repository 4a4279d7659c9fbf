"""Packed BCD numbers as DL/T 645 and CJ/T 188 put them on the wire: low byte first.

A signed value keeps its sign in the top bit of the most significant (last) byte, so an
n-byte signed field holds 2n − 1 digits plus that bit.
"""

from __future__ import annotations

from decimal import Decimal

from submeter.protocols.errors import InvalidValue

SIGN_BIT = 0x80


def bcd_to_int(data: bytes) -> int:
    """Unsigned BCD, low byte first, to an integer."""
    value = 0
    for byte in reversed(data):
        high, low = byte >> 4, byte & 0x0F
        if high > 9 or low > 9:
            raise InvalidValue(f"byte {byte:02X} is not a BCD digit pair")
        value = value * 100 + high * 10 + low
    return value


def int_to_bcd(value: int, length: int) -> bytes:
    """A non-negative integer to `length` BCD bytes, low byte first."""
    if value < 0 or value >= 100**length:
        raise InvalidValue(f"{value} does not fit in {length} BCD bytes")
    out = bytearray()
    for _ in range(length):
        value, pair = divmod(value, 100)
        out.append((pair // 10) << 4 | pair % 10)
    return bytes(out)


def bcd_to_decimal(data: bytes, decimals: int, signed: bool) -> Decimal:
    """BCD bytes to a Decimal with `decimals` places; `signed` reads the sign bit."""
    negative = False
    if signed and data and data[-1] & SIGN_BIT:
        negative = True
        data = data[:-1] + bytes([data[-1] & ~SIGN_BIT & 0xFF])
    magnitude = bcd_to_int(data)
    if negative and magnitude:
        magnitude = -magnitude
    return Decimal(magnitude).scaleb(-decimals)


def decimal_to_bcd(value: Decimal, length: int, decimals: int, signed: bool) -> bytes:
    """A Decimal to BCD bytes. Refuses values that need rounding or do not fit."""
    if not value.is_finite():
        raise InvalidValue(f"{value} is not a finite number")
    scaled = value.scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise InvalidValue(f"{value} has more than {decimals} decimal places")
    magnitude = abs(int(scaled))
    if value < 0 and not signed:
        raise InvalidValue(f"{value} is negative but the field is unsigned")
    if signed and magnitude >= _signed_limit(length):
        raise InvalidValue(f"{value} does not fit in a signed {length}-byte BCD field")
    data = int_to_bcd(magnitude, length)
    if value < 0 and magnitude:
        data = data[:-1] + bytes([data[-1] | SIGN_BIT])
    return data


def _signed_limit(length: int) -> int:
    """The first magnitude a signed field cannot hold: 8 × 10^(2n−1)."""
    return int(8 * 10 ** (2 * length - 1))
