"""DL/T 645-2007: frames, data identifiers, read, write, relay control 1CH, broadcast time.

Typical use on the master side::

    raw = encode_read_request("123456789012", "00010000")
    reply = decode_read_reply(decode_frame(received_bytes))
    reply.value  # Decimal("1234.56"), reply.item.unit == "kWh"
"""

from submeter.protocols.dlt645.broadcast_time import (
    TimeByteOrder,
    decode_broadcast_time,
    encode_broadcast_time,
)
from submeter.protocols.dlt645.data_identifiers import (
    DATA_ITEMS,
    DataItem,
    DataValue,
    MaximumDemand,
    PrepaidType,
    StatusWord3,
    ValueFormat,
    data_item,
    decode_value,
    encode_value,
)
from submeter.protocols.dlt645.error_reply import (
    Dlt645ErrorFlag,
    Dlt645ErrorReply,
    encode_error_reply,
    raise_for_error_reply,
)
from submeter.protocols.dlt645.frame import (
    BROADCAST_ADDRESS,
    WILDCARD_ADDRESS,
    Dlt645StreamFramer,
    Frame,
    Function,
    control_code,
    decode_frame,
    encode_frame,
)
from submeter.protocols.dlt645.read import (
    ReadReply,
    decode_read_address_reply,
    decode_read_reply,
    decode_read_request,
    encode_read_address_reply,
    encode_read_address_request,
    encode_read_reply,
    encode_read_request,
)
from submeter.protocols.dlt645.relay import (
    PLAINTEXT_PASSWORD_LEVEL,
    Credentials,
    RelayAction,
    RelayCommand,
    decode_relay_command,
    decode_relay_reply,
    encode_relay_command,
    encode_relay_reply,
)
from submeter.protocols.dlt645.write import (
    WriteRequest,
    decode_write_reply,
    decode_write_request,
    encode_write_reply,
    encode_write_request,
)

__all__ = [
    "BROADCAST_ADDRESS",
    "DATA_ITEMS",
    "PLAINTEXT_PASSWORD_LEVEL",
    "WILDCARD_ADDRESS",
    "Credentials",
    "DataItem",
    "DataValue",
    "Dlt645ErrorFlag",
    "Dlt645ErrorReply",
    "Dlt645StreamFramer",
    "Frame",
    "Function",
    "MaximumDemand",
    "PrepaidType",
    "ReadReply",
    "RelayAction",
    "RelayCommand",
    "StatusWord3",
    "TimeByteOrder",
    "ValueFormat",
    "WriteRequest",
    "control_code",
    "data_item",
    "decode_broadcast_time",
    "decode_frame",
    "decode_read_address_reply",
    "decode_read_reply",
    "decode_read_request",
    "decode_relay_command",
    "decode_relay_reply",
    "decode_value",
    "decode_write_reply",
    "decode_write_request",
    "encode_broadcast_time",
    "encode_error_reply",
    "encode_frame",
    "encode_read_address_reply",
    "encode_read_address_request",
    "encode_read_reply",
    "encode_read_request",
    "encode_relay_command",
    "encode_relay_reply",
    "encode_value",
    "encode_write_reply",
    "encode_write_request",
    "raise_for_error_reply",
]
