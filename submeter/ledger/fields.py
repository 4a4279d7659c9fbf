"""Exact decimal quantities stored as scaled 64-bit integers.

`MoneyField` holds yuan as whole fen; `ScaledDecimalField(places=3)` holds meter registers in
thousandths. Integers keep sums exact on every backend (SQLite would otherwise store decimals as
floating point) and are fast to insert. A value finer than the scale is refused, never rounded.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


def to_scaled(value: Decimal | int | str, places: int) -> int:
    scaled = Decimal(value).scaleb(places)
    if not scaled.is_finite() or scaled != scaled.to_integral_value():
        raise ValueError(f"{value} has more than {places} decimal places")
    return int(scaled)


def from_scaled(number: int, places: int) -> Decimal:
    return Decimal(number).scaleb(-places).quantize(Decimal(1).scaleb(-places))


def to_fen(value: Decimal | int | str) -> int:
    return to_scaled(value, 2)


def from_fen(fen: int) -> Decimal:
    return from_scaled(fen, 2)


class ScaledDecimalField(models.BigIntegerField):
    description = _("Exact decimal stored as a scaled integer")

    def __init__(self, *args, places: int = 2, **kwargs):
        self.places = places
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["places"] = self.places
        return name, path, args, kwargs

    def from_db_value(self, value, expression, connection):
        if value is None:
            return value
        return from_scaled(int(value), self.places)

    def to_python(self, value):
        if value is None or isinstance(value, Decimal):
            return value
        try:
            return Decimal(str(value))
        except InvalidOperation as exc:
            raise ValidationError(_("Enter a number."), code="invalid") from exc

    def get_prep_value(self, value):
        if value is None or hasattr(value, "resolve_expression"):
            return value
        try:
            return to_scaled(value, self.places)
        except (ValueError, InvalidOperation) as exc:
            raise ValueError(
                f"{value!r} is not a number with at most {self.places} decimals"
            ) from exc

    def formfield(self, **kwargs):
        from django import forms

        kwargs.pop("max_digits", None)
        return forms.DecimalField(max_digits=18, decimal_places=self.places, **kwargs)


class MoneyField(ScaledDecimalField):
    description = _("Amount in yuan (stored as whole fen)")

    def __init__(self, *args, **kwargs):
        kwargs["places"] = 2
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("places", None)
        return name, path, args, kwargs
