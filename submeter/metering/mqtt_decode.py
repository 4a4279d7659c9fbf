"""Gateways' `up/readings` messages decoded to what ingest stores: pure Python (no Django), so
the MQTT ingest worker can decode the next batch in another process while it stores this one."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from submeter.metering.registers import Units, stored_units
from submeter.protocols.errors import PayloadError
from submeter.protocols.mqtt_payloads import parse_readings
from submeter.protocols.mqtt_topics import parse_topic

DEFAULT_DECODE_PROCESSES = 1 if (os.cpu_count() or 1) > 1 else 0
"""Decoding processes an ingest worker starts: one beside it when there is a core to spare."""


class DecodedMessage(NamedTuple):
    organisation_code: str
    gateway_id: str
    readings: list[tuple[str, datetime, Units | None]]  # (meter address, time, stored units)


class RejectedMessage(NamedTuple):
    detail: str


def decode_readings(
    messages: Sequence[tuple[str, bytes]],
) -> list[DecodedMessage | RejectedMessage]:
    """(topic, payload) pairs → one DecodedMessage or RejectedMessage (with the reason) each."""
    decoded: list[DecodedMessage | RejectedMessage] = []
    for topic_text, payload in messages:
        try:
            topic = parse_topic(topic_text)
            message = parse_readings(payload, registers_as_text=True)
            if message.gateway_id != topic.gateway_id:
                raise PayloadError("gateway_id", "does not match the topic")
        except (PayloadError, ValueError) as exc:
            decoded.append(RejectedMessage(str(exc)[:300]))
            continue
        decoded.append(
            DecodedMessage(
                topic.organisation,
                topic.gateway_id,
                [
                    (reading.meter_address, reading.timestamp, stored_units(reading.registers))
                    for reading in message.readings
                ],
            )
        )
    return decoded
