"""`submeter frame decode|encode`, driven through `submeter.cli.main`."""

from __future__ import annotations

import json
from typing import Any

import pytest

from submeter.cli import main

G2 = "68 12 90 78 56 34 12 68 91 08 33 33 34 33 89 67 45 33 54 16"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["frame", *argv])
    return code, capsys.readouterr().out


def decode(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code, out = run(capsys, "decode", *argv)
    return code, json.loads(out)


def test_decode_prints_energy_reading_with_unit(capsys: pytest.CaptureFixture[str]) -> None:
    code, document = decode(capsys, "--protocol", "dlt645", G2)
    assert code == 0
    assert document["address"] == "123456789012"
    assert document["control_code"] == "91"
    assert document["data_identifier"] == "00010000"
    assert document["value"] == "1234.56"
    assert document["item"]["unit"] == "kWh"


def test_decode_accepts_hex_without_spaces(capsys: pytest.CaptureFixture[str]) -> None:
    code, document = decode(capsys, "--protocol", "dlt645", G2.replace(" ", ""))
    assert (code, document["value"]) == (0, "1234.56")


def test_decode_accepts_hex_split_over_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    code, document = decode(capsys, "--protocol", "dlt645", *G2.split())
    assert (code, document["value"]) == (0, "1234.56")


def test_decode_bad_checksum_exits_1_with_error_object(capsys: pytest.CaptureFixture[str]) -> None:
    code, document = decode(
        capsys, "--protocol", "dlt645", "68 34 12 00 00 00 00 68 11 04 33 33 33 33 B2 16"
    )
    assert code == 1
    assert document["error"]["code"] == "checksum_error"
    assert document["error"]["expected"] == "F7"


def test_decode_meter_error_reply_exits_1_with_reasons(capsys: pytest.CaptureFixture[str]) -> None:
    code, document = decode(
        capsys, "--protocol", "dlt645", "68 12 90 78 56 34 12 68 D1 01 35 8D 16"
    )
    assert code == 1
    assert document["abnormal"] is True
    assert document["error"]["reasons"] == ["no_requested_data"]


def test_decode_invalid_hex_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, document = decode(capsys, "--protocol", "dlt645", "68 1G")
    assert code == 1
    assert document["error"]["code"] == "invalid_hex"


def test_decode_status_word_shows_relay_state(capsys: pytest.CaptureFixture[str]) -> None:
    code, document = decode(
        capsys, "--protocol", "dlt645", "68 12 90 78 56 34 12 68 91 06 36 38 33 37 83 43 BB 16"
    )
    assert code == 0
    assert document["value"]["relay"] == "open"
    assert document["value"]["protected"] is True


def test_decode_relay_command_shows_action_and_deadline(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, document = decode(
        capsys,
        "--protocol",
        "dlt645",
        "68 12 90 78 56 34 12 68 1C 10 35 33 33 33 33 33 33 33 4D 33 8C 8C 56 64 45 63 46 16",
    )
    assert code == 0
    assert document["relay"]["action"] == "trip"
    assert document["relay"]["deadline"] == "2030-12-31T23:59:59+08:00"


def test_decode_broadcast_time(capsys: pytest.CaptureFixture[str]) -> None:
    code, document = decode(
        capsys, "--protocol", "dlt645", "68 99 99 99 99 99 99 68 08 06 48 47 46 53 38 57 2B 16"
    )
    assert (code, document["time"]) == (0, "2024-05-20T13:14:15+08:00")


def test_decode_water_reading(capsys: pytest.CaptureFixture[str]) -> None:
    code, document = decode(
        capsys,
        "--protocol",
        "cjt188",
        "68 10 12 00 00 00 00 00 00 81 16 90 1F 00 10 00 10 00 2C 10 00 10 00 2C "
        "00 00 00 00 00 00 00 00 FF 67 16",
    )
    assert code == 0
    assert document["reading"]["current"] == {"value": "1000.10", "unit": "m3"}
    assert document["reading"]["status"]["valve"] == "open"


def test_decode_valve_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, document = decode(
        capsys, "--protocol", "cjt188", "68 10 78 56 34 12 00 00 00 04 04 A0 17 01 99 E5 16"
    )
    assert (code, document["valve_action"]) == (0, "close")


def test_encode_dlt645_read(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(
        capsys,
        "encode",
        "--protocol",
        "dlt645",
        "read",
        "--address",
        "123456789012",
        "--di",
        "00010000",
    )
    assert (code, out.strip()) == (0, "68 12 90 78 56 34 12 68 11 04 33 33 34 33 68 16")


def test_encode_dlt645_relay_trip(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(
        capsys,
        "encode",
        "--protocol",
        "dlt645",
        "relay",
        "--address",
        "123456789012",
        "--action",
        "trip",
        "--deadline",
        "2030-12-31T23:59:59+08:00",
    )
    assert code == 0
    assert out.strip() == (
        "68 12 90 78 56 34 12 68 1C 10 35 33 33 33 33 33 33 33 4D 33 8C 8C 56 64 45 63 46 16"
    )


def test_encode_dlt645_relay_with_password_and_preamble(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = run(
        capsys,
        "encode",
        "--protocol",
        "dlt645",
        "--preamble",
        "4",
        "relay",
        "--address",
        "123456789012",
        "--action",
        "trip",
        "--deadline",
        "2030-12-31T23:59:59+08:00",
        "--password",
        "123456",
    )
    assert code == 0
    assert out.strip().endswith("4D 33 8C 8C 56 64 45 63 E2 16")
    assert out.startswith("FE FE FE FE 68")


def test_encode_dlt645_time(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(
        capsys, "encode", "--protocol", "dlt645", "time", "--at", "2024-05-20T13:14:15+08:00"
    )
    assert (code, out.strip()) == (0, "68 99 99 99 99 99 99 68 08 06 48 47 46 53 38 57 2B 16")


def test_encode_time_without_zone_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "encode", "--protocol", "dlt645", "time", "--at", "2024-05-20T13:14")
    assert code == 2
    assert json.loads(out)["error"]["code"] == "usage_error"


def test_encode_cjt188_read_in_low_first_order(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(
        capsys,
        "encode",
        "--protocol",
        "cjt188",
        "read",
        "--address",
        "00000012345678",
        "--di-order",
        "low_first",
    )
    assert (code, out.strip()) == (0, "68 10 78 56 34 12 00 00 00 01 03 1F 90 00 3F 16")


def test_encode_cjt188_valve_close(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(
        capsys,
        "encode",
        "--protocol",
        "cjt188",
        "valve",
        "--address",
        "00000012345678",
        "--action",
        "close",
        "--serial",
        "1",
    )
    assert (code, out.strip()) == (0, "68 10 78 56 34 12 00 00 00 04 04 A0 17 01 99 E5 16")


def test_encode_valve_for_dlt645_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run(
        capsys,
        "encode",
        "--protocol",
        "dlt645",
        "valve",
        "--address",
        "123456789012",
        "--action",
        "close",
    )
    assert code == 2


def test_encode_bad_address_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(
        capsys, "encode", "--protocol", "dlt645", "read", "--address", "12", "--di", "00010000"
    )
    assert code == 2
    assert json.loads(out)["error"]["code"] == "invalid_value"


@pytest.mark.parametrize(
    "argv",
    [
        ["frame", "--help"],
        ["frame", "decode", "--help"],
        ["frame", "encode", "--help"],
        ["frame", "encode", "--protocol", "dlt645", "relay", "--help"],
        ["frame", "encode", "--protocol", "cjt188", "valve", "--help"],
    ],
)
def test_help_is_available_everywhere(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 0
    assert "usage: submeter frame" in capsys.readouterr().out
