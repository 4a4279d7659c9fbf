"""MoneyField: a yuan amount as `Decimal` in Python, whole fen as a 64-bit integer in the database.

Integers keep sums exact on every backend (SQLite would otherwise store decimals as floating
point). A value with a fraction of a fen is refused, never rounded silently.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

FEN = Decimal("0.01")


def to_fen(value: Decimal | int | str) -> int:
    amount = Decimal(value)
    fen = amount * 100
    if not fen.is_finite() or fen != fen.to_integral_value():
        raise ValueError(f"{value} is not a whole number of fen")
    return int(fen)


def from_fen(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(FEN)


class MoneyField(models.BigIntegerField):
    description = _("Amount in yuan (stored as whole fen)")

    def from_db_value(self, value, expression, connection):
        if value is None:
            return value
        return from_fen(int(value))

    def to_python(self, value):
        if value is None or isinstance(value, Decimal):
            return value
        try:
            return Decimal(str(value))
        except InvalidOperation as exc:
            raise ValidationError(_("Enter an amount in yuan."), code="invalid") from exc

    def get_prep_value(self, value):
        if value is None:
            return None
        if hasattr(value, "resolve_expression"):
            return value
        try:
            return to_fen(value)
        except (ValueError, InvalidOperation) as exc:
            raise ValueError(f"{value!r} is not an amount in whole fen") from exc

    def formfield(self, **kwargs):
        from django import forms

        return forms.DecimalField(
            max_digits=14,
            decimal_places=2,
            **{k: v for k, v in kwargs.items() if k != "max_digits"},
        )
