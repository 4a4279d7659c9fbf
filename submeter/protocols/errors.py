"""The one exception hierarchy of the protocol codecs.

Every decoder raises only `ProtocolError` subclasses, whatever bytes or JSON it is given.
`ProtocolError` is a `ValueError`, so callers that only care about "bad input" can catch that.
"""

from __future__ import annotations


class ProtocolError(ValueError):
    """Base class: the input cannot be decoded, or a value cannot be encoded."""

    code = "protocol_error"


class TruncatedFrame(ProtocolError):
    """Fewer bytes than the frame needs."""

    code = "truncated_frame"


class ChecksumError(ProtocolError):
    """The frame's checksum byte does not match the sum of its bytes."""

    code = "checksum_error"

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"checksum is {actual:02X}, expected {expected:02X}")
        self.expected = expected
        self.actual = actual


class FrameFormatError(ProtocolError):
    """Bad start or end byte, a wrong length, or a frame that is not what was expected."""

    code = "frame_format_error"


class InvalidValue(ProtocolError):
    """A field holds a value that is not allowed (bad BCD digit, NaN, out of range...)."""

    code = "invalid_value"


class UnknownDataIdentifier(ProtocolError):
    """A data identifier that the registry does not describe."""

    code = "unknown_data_identifier"

    def __init__(self, data_identifier: str) -> None:
        super().__init__(f"unknown data identifier {data_identifier}")
        self.data_identifier = data_identifier


class MeterErrorReply(ProtocolError):
    """The meter answered with an abnormal (error) reply.

    `error_byte` is the raw error byte when the protocol has one; `reasons` are the decoded
    meanings of its bits, as short English identifiers (e.g. `no_requested_data`).
    """

    code = "meter_error_reply"

    def __init__(
        self,
        address: str,
        control_code: int,
        error_byte: int | None,
        reasons: tuple[str, ...],
    ) -> None:
        shown = f"{error_byte:02X}" if error_byte is not None else "none"
        super().__init__(
            f"meter {address} replied with error (control {control_code:02X}, "
            f"error byte {shown}: {', '.join(reasons) or 'unspecified'})"
        )
        self.address = address
        self.control_code = control_code
        self.error_byte = error_byte
        self.reasons = reasons


class PayloadError(ProtocolError):
    """An MQTT JSON payload that does not follow its schema. `path` points at the bad field."""

    code = "payload_error"

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.detail = message
