from datetime import UTC, datetime
from decimal import Decimal

from submeter.metering.mqtt_decode import DecodedMessage, RejectedMessage, decode_readings
from submeter.metering.registers import VALUE_FIELDS
from submeter.protocols.mqtt_payloads import MeterReading, ReadingsMessage, encode_readings
from submeter.protocols.mqtt_topics import TopicKind, build_topic

AT = datetime(2026, 11, 1, tzinfo=UTC)


def payload(gateway="gw-1"):
    return encode_readings(
        ReadingsMessage(
            gateway, "m-1", (MeterReading("000001", AT, {"energy_kwh": Decimal("5.5")}),)
        )
    )


def test_a_readings_message_is_decoded_to_stored_units():
    [decoded] = decode_readings([(build_topic("park", "gw-1", TopicKind.READINGS), payload())])

    assert isinstance(decoded, DecodedMessage)
    assert (decoded.organisation_code, decoded.gateway_id) == ("park", "gw-1")
    [(address, at, units)] = decoded.readings
    assert (address, at, units[VALUE_FIELDS.index("energy_kwh")]) == ("000001", AT, 5500)


def test_a_bad_message_is_rejected_with_its_reason_and_the_others_still_decoded():
    topic = build_topic("park", "gw-1", TopicKind.READINGS)

    results = decode_readings([(topic, b'{"gateway_id": 1}'), (topic, payload())])

    assert isinstance(results[0], RejectedMessage) and results[0].detail
    assert isinstance(results[1], DecodedMessage)


def test_a_message_whose_gateway_is_not_the_topics_is_rejected():
    [result] = decode_readings([(build_topic("park", "gw-2", TopicKind.READINGS), payload())])

    assert result == RejectedMessage("gateway_id: does not match the topic")


def test_the_decoding_process_imports_no_django():
    import subprocess
    import sys

    code = (
        "import sys, submeter.metering.mqtt_decode\n"
        "print(sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )

    assert result.stdout.strip() == "[]"
