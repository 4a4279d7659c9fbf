"""DL/T 645 read data: the data identifier registry and value codecs."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from submeter.protocols import dlt645
from submeter.protocols.errors import FrameFormatError, InvalidValue, UnknownDataIdentifier
from submeter.protocols.measurement_kind import MeasurementKind
from submeter.protocols.meter_clock import CHINA_TIME_ZONE

METER = "123456789012"


def round_trip(data_identifier: str, value: dlt645.DataValue) -> dlt645.DataValue:
    raw = dlt645.encode_read_reply(METER, data_identifier, value)
    return dlt645.decode_read_reply(dlt645.decode_frame(raw)).value


@pytest.mark.parametrize(
    ("data_identifier", "length", "decimals", "signed", "unit"),
    [
        ("00000000", 4, 2, True, "kWh"),
        ("00010000", 4, 2, False, "kWh"),
        ("00010100", 4, 2, False, "kWh"),
        ("00010400", 4, 2, False, "kWh"),
        ("00020000", 4, 2, False, "kWh"),
        ("00030000", 4, 2, True, "kvarh"),
        ("00040000", 4, 2, True, "kvarh"),
        ("02010100", 2, 1, False, "V"),
        ("02020300", 3, 3, True, "A"),
        ("02030000", 3, 4, True, "kW"),
        ("02060000", 2, 3, True, ""),
        ("01010000", 8, 4, False, "kW"),
        ("00900200", 4, 2, False, "CNY"),
        ("04000503", 2, 0, False, ""),
    ],
)
def test_registry_describes_billing_identifiers(
    data_identifier: str, length: int, decimals: int, signed: bool, unit: str
) -> None:
    item = dlt645.data_item(data_identifier)
    assert (item.length, item.decimals, item.signed, item.unit) == (
        length,
        decimals,
        signed,
        unit,
    )


def test_registry_names_items_in_chinese_and_english() -> None:
    item = dlt645.data_item("00010000")
    assert item.name_zh == "当前正向有功总电能"
    assert item.name_en == "forward active energy total"


def test_energy_registers_are_cumulative_and_power_is_instantaneous() -> None:
    assert dlt645.data_item("00010100").kind is MeasurementKind.CUMULATIVE
    assert dlt645.data_item("02030000").kind is MeasurementKind.INSTANTANEOUS


def test_previous_settlement_day_identifiers_are_known() -> None:
    assert dlt645.data_item("0001010C").name_zh == "上12结算日正向有功费率1(尖)电能"


def test_unknown_identifier_raises_unknown_data_identifier() -> None:
    with pytest.raises(UnknownDataIdentifier) as caught:
        dlt645.data_item("12345678")
    assert caught.value.data_identifier == "12345678"


def test_per_rate_forward_energy_round_trips() -> None:
    assert round_trip("00010300", Decimal("999999.99")) == Decimal("999999.99")


def test_forward_energy_block_decodes_total_and_rates() -> None:
    values = (Decimal("100.00"), Decimal("10.00"), Decimal("20.00"), Decimal("30.00"))
    assert round_trip("0001FF00", values) == values


def test_negative_current_round_trips_with_sign_bit() -> None:
    assert round_trip("02020200", Decimal("-12.345")) == Decimal("-12.345")


def test_power_factor_round_trips() -> None:
    assert round_trip("02060000", Decimal("0.985")) == Decimal("0.985")


def test_combined_reactive_energy_can_be_negative() -> None:
    assert round_trip("00030000", Decimal("-12.50")) == Decimal("-12.50")


def test_maximum_demand_decodes_value_and_time() -> None:
    demand = dlt645.MaximumDemand(
        demand_kw=Decimal("12.3456"),
        occurred_at=datetime(2024, 5, 20, 13, 15, tzinfo=CHINA_TIME_ZONE),
    )
    assert round_trip("01010000", demand) == demand


def test_maximum_demand_without_time_decodes_to_none() -> None:
    demand = dlt645.MaximumDemand(demand_kw=Decimal("0.0000"), occurred_at=None)
    assert round_trip("01010000", demand) == demand


def test_last_trip_time_decodes_to_an_aware_datetime() -> None:
    at = datetime(2024, 5, 20, 13, 14, 15, tzinfo=CHINA_TIME_ZONE)
    assert round_trip("1D000101", at) == at


def test_meter_number_decodes_as_digits() -> None:
    assert round_trip("04000402", "123456789012") == "123456789012"


def test_status_word_reports_money_prepaid_type() -> None:
    status = round_trip("04000503", dlt645.StatusWord3(0x0200))
    assert isinstance(status, dlt645.StatusWord3)
    assert status.prepaid_type is dlt645.PrepaidType.MONEY
    assert not status.relay_open


def test_status_word_reports_relay_closed_when_bit_4_clear() -> None:
    assert not dlt645.StatusWord3(0x0040).relay_open


def test_value_with_too_many_decimals_is_refused() -> None:
    with pytest.raises(InvalidValue):
        dlt645.encode_read_reply(METER, "00010000", Decimal("1.234"))


def test_value_too_large_is_refused() -> None:
    with pytest.raises(InvalidValue):
        dlt645.encode_read_reply(METER, "00010000", Decimal("1000000.00"))


def test_negative_value_for_unsigned_item_is_refused() -> None:
    with pytest.raises(InvalidValue):
        dlt645.encode_read_reply(METER, "00010000", Decimal("-1.00"))


def test_wrong_value_type_is_refused() -> None:
    with pytest.raises(InvalidValue):
        dlt645.encode_read_reply(METER, "00010000", "1234.56")


def test_reply_with_wrong_value_length_raises_format_error() -> None:
    frame = dlt645.Frame(METER, 0x91, bytes.fromhex("00 00 01 00 56 34 12"))
    with pytest.raises(FrameFormatError):
        dlt645.decode_read_reply(frame)


def test_reply_with_non_bcd_value_raises_invalid_value() -> None:
    frame = dlt645.Frame(METER, 0x91, bytes.fromhex("00 00 01 00 FF FF FF FF"))
    with pytest.raises(InvalidValue):
        dlt645.decode_read_reply(frame)


def test_request_is_not_accepted_as_a_reply() -> None:
    frame = dlt645.decode_frame(dlt645.encode_read_request(METER, "00010000"))
    with pytest.raises(FrameFormatError):
        dlt645.decode_read_reply(frame)


def test_read_request_decodes_to_its_data_identifier() -> None:
    frame = dlt645.decode_frame(dlt645.encode_read_request(METER, "0001ff00"))
    assert dlt645.decode_read_request(frame) == "0001FF00"


def test_follow_up_flag_is_kept_in_the_reply() -> None:
    raw = dlt645.encode_read_reply(METER, "00010000", Decimal("1.00"), follow_up=True)
    assert dlt645.decode_read_reply(dlt645.decode_frame(raw)).follow_up


def test_error_reply_lists_every_error_bit() -> None:
    errors = dlt645.Dlt645ErrorFlag.OTHER | dlt645.Dlt645ErrorFlag.TOO_MANY_RATES
    raw = dlt645.encode_error_reply(METER, dlt645.Function.READ_DATA, errors)
    with pytest.raises(dlt645.Dlt645ErrorReply) as caught:
        dlt645.decode_read_reply(dlt645.decode_frame(raw))
    assert caught.value.reasons == ("other", "too_many_rates")
