"""Abnormal replies (D1H, D4H, DCH…): the ERR byte and the exception it becomes."""

from __future__ import annotations

from enum import IntFlag

from submeter.protocols.dlt645.frame import Frame, control_code, encode_frame
from submeter.protocols.errors import FrameFormatError, MeterErrorReply


class Dlt645ErrorFlag(IntFlag):
    """Bits of the ERR byte (read/write replies; 1CH replies use the same byte)."""

    OTHER = 0x01
    NO_REQUESTED_DATA = 0x02
    UNAUTHORIZED = 0x04
    """Wrong password or not authorised."""
    BAUD_RATE_UNCHANGEABLE = 0x08
    TOO_MANY_YEAR_ZONES = 0x10
    TOO_MANY_DAY_PERIODS = 0x20
    TOO_MANY_RATES = 0x40


class Dlt645ErrorReply(MeterErrorReply):
    """A DL/T 645 abnormal reply; `flags` holds the decoded ERR bits."""

    def __init__(self, address: str, control_code: int, error_byte: int | None) -> None:
        flags = Dlt645ErrorFlag(error_byte & 0x7F) if error_byte is not None else None
        reasons = tuple(
            (flag.name or "").lower() for flag in Dlt645ErrorFlag if flags and flag in flags
        )
        super().__init__(address, control_code, error_byte, reasons)
        self.flags = flags or Dlt645ErrorFlag(0)


def raise_for_error_reply(frame: Frame) -> None:
    """Raise Dlt645ErrorReply if the frame is an abnormal reply."""
    if frame.abnormal:
        error_byte = frame.data[0] if frame.data else None
        raise Dlt645ErrorReply(frame.address, frame.control_code, error_byte)


def expect_reply(frame: Frame, function: int) -> None:
    """Check that the frame answers `function`, raising the meter's error if it is one."""
    if not frame.from_meter or frame.function != function:
        raise FrameFormatError(
            f"expected a reply to {function:02X}H, got control code {frame.control_code:02X}"
        )
    raise_for_error_reply(frame)


def encode_error_reply(
    address: str, function: int, errors: Dlt645ErrorFlag, *, preamble_length: int = 0
) -> bytes:
    """An abnormal reply (simulator side): control = function | C0H, data = ERR."""
    return encode_frame(
        Frame(
            address=address,
            control_code=control_code(function, from_meter=True, abnormal=True),
            data=bytes([int(errors)]),
        ),
        preamble_length=preamble_length,
    )
