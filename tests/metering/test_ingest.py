import datetime
import itertools
from decimal import Decimal

import pytest
from django.utils import timezone

from submeter.metering.ingest import ReadingIn, ingest
from submeter.metering.models import QuarantinedReading, Reading
from submeter.metering.services import refresh_online_state
from tests.factories import make_gateway, make_meter

T0 = datetime.datetime(2026, 11, 1, 0, 0, tzinfo=datetime.UTC)
NOW = datetime.datetime(2026, 11, 22, 12, 0, tzinfo=datetime.UTC)


def reading(meter, minutes, energy, **registers):
    return ReadingIn(
        organisation_id=meter.organisation_id,
        meter_address=meter.address,
        timestamp=T0 + datetime.timedelta(minutes=minutes),
        registers={"energy_kwh": Decimal(energy), **{k: Decimal(v) for k, v in registers.items()}},
        source="mqtt",
    )


@pytest.fixture
def meter(org):
    return make_meter(org, address="123456789012", rated_power_kw=Decimal("10"))


def test_readings_are_stored_once_and_move_the_meter_forward(meter):
    batch = [reading(meter, 15 * n, f"{100 + n}.5", power_kw="2.5") for n in range(4)]

    first = ingest(batch, now=NOW)
    second = ingest(batch, now=NOW)

    assert (first.stored, first.duplicates, second.stored, second.duplicates) == (4, 0, 0, 4)
    assert Reading.objects.filter(meter=meter).count() == 4
    meter.refresh_from_db()
    assert meter.last_reading_at == T0 + datetime.timedelta(minutes=45)
    assert meter.latest_values()["energy_kwh"] == Decimal("103.500")
    assert meter.online_state == "online"


def test_values_are_exact_decimals(meter):
    ingest([reading(meter, 0, "987654.321", power_factor="0.985", voltage_a_v="220.1")], now=NOW)

    stored = Reading.objects.get(meter=meter)
    assert stored.energy_kwh == Decimal("987654.321")
    assert stored.power_factor == Decimal("0.985")
    assert stored.voltage_a_v == Decimal("220.10")


def test_unknown_meter_and_another_organisations_meter_are_quarantined(meter, other_org):
    theirs = make_meter(other_org, address="999")
    stray = ReadingIn(meter.organisation_id, "999", T0, {"energy_kwh": Decimal("1")}, "mqtt")

    result = ingest([stray], now=NOW)

    assert result.quarantined == 1
    assert not Reading.objects.filter(meter=theirs).exists()
    assert QuarantinedReading.objects.get().reason == "unknown_meter"


def test_future_timestamp_is_quarantined(meter):
    future = ReadingIn(
        meter.organisation_id,
        meter.address,
        NOW + datetime.timedelta(hours=1),
        {"energy_kwh": Decimal("1")},
        "mqtt",
    )

    assert ingest([future], now=NOW).quarantined == 1
    assert QuarantinedReading.objects.get().reason == "future_timestamp"


def test_register_going_backwards_is_quarantined_not_stored(meter):
    ingest([reading(meter, 0, "100"), reading(meter, 15, "101")], now=NOW)

    result = ingest([reading(meter, 30, "99")], now=NOW)

    assert (result.stored, result.quarantined) == (0, 1)
    assert QuarantinedReading.objects.get().reason == "register_backwards"


def test_backfilled_reading_must_fit_between_its_neighbours(meter):
    ingest([reading(meter, 0, "100"), reading(meter, 60, "104")], now=NOW)

    fits = ingest([reading(meter, 30, "102")], now=NOW)
    does_not = ingest([reading(meter, 45, "105")], now=NOW)

    assert fits.stored == 1
    assert does_not.quarantined == 1


def test_jump_beyond_rated_power_is_quarantined(meter):
    ingest([reading(meter, 0, "100")], now=NOW)

    # 10 kW for 15 minutes is 2.5 kWh; 50 kWh is impossible.
    result = ingest([reading(meter, 15, "150")], now=NOW)

    assert result.quarantined == 1
    assert QuarantinedReading.objects.get().reason == "impossible_jump"


def test_out_of_order_batch_is_sorted_before_checks(meter):
    batch = [reading(meter, 30, "102"), reading(meter, 0, "100"), reading(meter, 15, "101")]

    assert ingest(batch, now=NOW).stored == 3


def test_conflicting_duplicate_is_kept_for_review(meter):
    ingest([reading(meter, 0, "100")], now=NOW)

    result = ingest([reading(meter, 0, "100.5")], now=NOW)

    assert (result.duplicates, result.quarantined) == (1, 1)
    assert Reading.objects.get(meter=meter).energy_kwh == Decimal("100.000")


def test_gateway_is_seen_with_its_readings(meter, org):
    gateway = make_gateway(org, serial="GW-9")
    item = ReadingIn(
        org.pk, meter.address, T0, {"energy_kwh": Decimal("1")}, "mqtt", gateway_serial="GW-9"
    )

    ingest([item], now=NOW)

    gateway.refresh_from_db()
    assert (gateway.online_state, gateway.last_seen_at) == ("online", NOW)


def test_meter_goes_offline_after_three_missed_intervals_and_back_online(meter):
    ingest([reading(meter, 0, "100")], now=NOW)
    read_at = T0

    refresh_online_state(read_at + datetime.timedelta(minutes=44))
    meter.refresh_from_db()
    assert meter.online_state == "online"
    refresh_online_state(read_at + datetime.timedelta(minutes=46))
    meter.refresh_from_db()
    assert meter.online_state == "offline"

    ingest([reading(meter, 60, "100.5")], now=NOW)
    meter.refresh_from_db()
    assert meter.online_state == "online"


def test_outage_replay_fills_the_gap_exactly_once(meter):
    live = [reading(meter, 15 * n, f"{100 + n * Decimal('0.5')}") for n in range(4)]
    ingest(live, now=NOW)
    # 6 hours of buffered readings replayed after the outage, with duplicates mixed in
    later = [reading(meter, 15 * n, f"{100 + n * Decimal('0.5')}") for n in range(4, 28)]
    replay = [*later[::2], *live, *later[1::2], *later[:5]]

    result = ingest(replay, now=NOW)

    stamps = list(
        Reading.objects.filter(meter=meter)
        .order_by("timestamp")
        .values_list("timestamp", flat=True)
    )
    assert len(stamps) == 28
    assert all(b - a == datetime.timedelta(minutes=15) for a, b in itertools.pairwise(stamps))
    assert result.stored == 24
    assert not QuarantinedReading.objects.exists()


def test_released_quarantine_item_is_stored(meter, admin_user):
    from submeter.metering.services import release_quarantined

    ingest([reading(meter, 0, "100")], now=NOW)
    ingest([reading(meter, 15, "150")], now=NOW)  # a jump: quarantined
    item = QuarantinedReading.objects.get()

    release_quarantined(admin_user, item)

    assert Reading.objects.filter(meter=meter).count() == 2
    item.refresh_from_db()
    assert item.state == "released"


def test_manual_reading_is_stored_and_audited(meter, admin_user):
    from submeter.metering.services import enter_manual_reading
    from submeter.tenancy.models import AuditEntry

    enter_manual_reading(
        admin_user,
        meter,
        timezone.now() - datetime.timedelta(hours=1),
        {"energy_kwh": Decimal("5000")},
    )

    assert Reading.objects.get(meter=meter).source == "manual"
    assert AuditEntry.objects.filter(action="reading.manual").exists()


def test_backfilled_reading_must_fit_the_stored_readings_inside_the_batch_span(meter):
    ingest(
        [reading(meter, 0, "100"), reading(meter, 30, "101"), reading(meter, 60, "102")], now=NOW
    )

    # 15 min: above the stored 30-min reading; 45 min: fits between 30 and 60.
    result = ingest([reading(meter, 15, "101.5"), reading(meter, 45, "101.5")], now=NOW)

    assert (result.stored, result.quarantined) == (1, 1)
    assert QuarantinedReading.objects.get().detail.startswith("energy_kwh 101.500 > 101.000")


def test_the_same_reading_twice_in_one_batch_is_stored_once(meter):
    result = ingest([reading(meter, 0, "100"), reading(meter, 0, "100")], now=NOW)

    assert (result.stored, result.duplicates) == (1, 1)


def test_a_meter_edited_between_batches_is_read_again(meter):
    from submeter.metering.models import Meter

    ingest([reading(meter, 0, "100")], now=NOW)
    # A bulk update sends no signal: the database trigger tells ingest the meter changed.
    Meter.objects.filter(pk=meter.pk).update(rated_power_kw=Decimal("1000"))

    # 50 kWh in 15 minutes: impossible at 10 kW, possible at 1000 kW.
    assert ingest([reading(meter, 15, "150")], now=NOW).stored == 1


def test_a_meter_whose_address_changed_is_not_found_by_its_old_address(meter):
    ingest([reading(meter, 0, "100")], now=NOW)
    old_address, meter.address = meter.address, "NEW-1"
    meter.save(update_fields=["address"])

    stray = ReadingIn(
        meter.organisation_id,
        old_address,
        T0 + datetime.timedelta(minutes=15),
        {"energy_kwh": Decimal("101")},
        "mqtt",
    )
    moved = ReadingIn(
        meter.organisation_id,
        "NEW-1",
        T0 + datetime.timedelta(minutes=15),
        {"energy_kwh": Decimal("101")},
        "mqtt",
    )

    assert ingest([stray], now=NOW).quarantined == 1
    assert ingest([moved], now=NOW).stored == 1


def test_a_row_stored_meanwhile_by_another_worker_is_counted_as_a_duplicate(meter):
    from submeter.metering.ingest import forget_caches

    ingest([reading(meter, 0, "100")], now=NOW)
    Reading.objects.create(
        meter=meter,
        organisation_id=meter.organisation_id,
        source="mqtt",
        timestamp=T0 + datetime.timedelta(minutes=15),
        energy_kwh=Decimal("101"),
    )  # the meter's last reading time was not moved: this worker takes 15 min as new
    forget_caches()

    result = ingest([reading(meter, 15, "101"), reading(meter, 30, "102")], now=NOW)

    assert (result.stored, result.duplicates) == (1, 1)
    assert Reading.objects.filter(meter=meter).count() == 3


def test_deleting_a_meter_moves_the_identity_version(meter, org):
    from submeter.metering.models import MeterIdentityVersion

    other = make_meter(org, address="555")
    before = MeterIdentityVersion.objects.get(pk=1).version

    other.delete()

    assert MeterIdentityVersion.objects.get(pk=1).version == before + 1
