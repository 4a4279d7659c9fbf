"""The engine's one exception family: a machine code, a message and the field it is about."""

from __future__ import annotations


class EngineError(Exception):
    """Base of every error the engine raises on bad input.

    `code` is stable and machine-readable (`unknown_rate`, `period_overlap`, ...), `field` is the
    path of the offending value in the input document (`versions[0].energy.rates.sharp.price`), or
    the empty string when the error is about the document as a whole.
    """

    def __init__(self, code: str, message: str, field: str = "") -> None:
        self.code = code
        self.message = message
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "field": self.field}


class TariffError(EngineError):
    """The tariff document is invalid."""


class UsageError(EngineError):
    """The usage document is invalid, or does not fit the tariff it is rated against."""
