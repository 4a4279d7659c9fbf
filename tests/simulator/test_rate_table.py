"""The hour → meter rate table."""

from __future__ import annotations

from pathlib import Path

import pytest

from submeter.simulator import DEFAULT_RATE_TABLE, RateTable

SAMPLE_TARIFF = Path(__file__).parents[2] / "docs" / "examples" / "sample-bill" / "tariff.json"


def test_default_table_is_the_sample_tariffs_day_profile() -> None:
    assert RateTable.from_tariff_file(SAMPLE_TARIFF) == DEFAULT_RATE_TABLE


def test_default_table_has_sharp_at_ten_and_valley_at_night() -> None:
    assert DEFAULT_RATE_TABLE.rate_at(10) == 1
    assert DEFAULT_RATE_TABLE.rate_at(3) == 4


def test_a_day_profile_with_a_gap_is_refused() -> None:
    with pytest.raises(ValueError, match="without a rate"):
        RateTable.from_day_profile([{"from": "00:00", "to": "23:00", "rate": "flat"}])


def test_half_hour_bands_are_refused() -> None:
    with pytest.raises(ValueError, match="whole hours"):
        RateTable.from_day_profile([{"from": "00:00", "to": "08:30", "rate": "flat"}])
