"""The prepaid policy against the real ledger, commands and notifications (no network: the
acknowledgements are recorded as the ack listener would record them)."""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest

from submeter.alarms.models import Notification
from submeter.control import policy
from submeter.control.models import (
    Command,
    CommandAction,
    CommandState,
    ControlSettings,
    QuietDay,
    SupplyPhase,
    SupplyState,
)
from submeter.control.services import record_ack
from submeter.errors import ServiceError
from submeter.ledger import services as ledger
from submeter.ledger.integrity import audit_ledger
from submeter.protocols.mqtt_payloads import AckResult, CommandAck, RelayState
from tests.factories import make_customer, make_gateway, make_meter, make_organisation

pytestmark = pytest.mark.django_db

NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai, a Monday


@pytest.fixture
def park():
    organisation = make_organisation()
    ControlSettings.objects.create(organisation=organisation, cutoff_notice_minutes=30)
    gateway = make_gateway(organisation, serial="GW-1", online_state="online")
    customer = make_customer(organisation)
    meter = make_meter(organisation, customer=customer, gateway=gateway, online_state="online")
    ledger.topup(None, customer, "10.00", "cash", fee_percent=Decimal("0"))
    return organisation, customer, meter


def spend(customer, amount: str, key: str) -> None:
    ledger.charge(None, customer, amount, "electricity", idempotency_key=key)


def acknowledge(command: Command, relay: RelayState) -> Command:
    ack = CommandAck(
        gateway_id="GW-1",
        command_id=command.command_id,
        meter_address=command.meter.address,
        timestamp=NOON,
        result=AckResult.OK,
        relay_state=relay,
    )
    return record_ack(command.organisation_id, ack)


def supply_of(meter) -> SupplyState:
    return SupplyState.objects.get(meter=meter)


def cut_off(customer, meter) -> Command:
    spend(customer, "10.01", "arrears")
    policy.evaluate(customer.pk, now=NOON)
    policy.evaluate(customer.pk, now=NOON + timedelta(minutes=31))
    trip = Command.objects.get(meter=meter, action=CommandAction.TRIP)
    acknowledge(trip, RelayState.OPEN)
    return trip


def test_arrears_announces_the_cutoff_before_sending_it(park):
    _organisation, customer, meter = park
    spend(customer, "10.01", "c1")
    policy.evaluate(customer.pk, now=NOON)
    supply = supply_of(meter)
    assert supply.phase == SupplyPhase.PENDING_DISCONNECT
    assert supply.cut_due_at == NOON + timedelta(minutes=30)
    assert not Command.objects.filter(meter=meter).exists()
    assert Notification.objects.filter(customer=customer, kind="cutoff_pending").exists()


def test_due_cutoff_sends_one_trip_with_its_cause(park):
    _organisation, customer, meter = park
    spend(customer, "10.01", "c1")
    policy.evaluate(customer.pk, now=NOON)
    policy.evaluate(customer.pk, now=NOON + timedelta(minutes=31))
    policy.evaluate(customer.pk, now=NOON + timedelta(minutes=32))
    trip = Command.objects.get(meter=meter)
    assert trip.action == CommandAction.TRIP
    assert trip.cause["balance"] == "-0.01"
    assert supply_of(meter).phase == SupplyPhase.DISCONNECT_SENT
    assert Notification.objects.filter(customer=customer, kind="cut_off").exists()


def test_acknowledged_trip_marks_the_meter_cut_off(park):
    _organisation, customer, meter = park
    cut_off(customer, meter)
    supply = supply_of(meter)
    assert supply.phase == SupplyPhase.DISCONNECTED
    assert supply.relay_closed is False


def test_balance_at_minus_the_overdraft_limit_is_not_cut(park):
    _organisation, customer, meter = park
    ledger.set_overdraft_limit(None, customer, "20.00")
    spend(customer, "30.00", "c1")
    policy.evaluate(customer.pk, now=NOON + timedelta(hours=2))
    assert supply_of(meter).phase == SupplyPhase.ON


def test_no_cutoff_is_sent_in_quiet_hours(park):
    organisation, customer, meter = park
    ControlSettings.objects.filter(organisation=organisation).update(
        quiet_start=time(12, 10), quiet_end=time(14, 0)
    )
    spend(customer, "10.01", "c1")
    policy.evaluate(customer.pk, now=NOON)
    assert supply_of(meter).cut_due_at == NOON + timedelta(hours=2)  # 14:00 local
    policy.evaluate(customer.pk, now=NOON + timedelta(minutes=45))
    assert not Command.objects.filter(meter=meter).exists()


def test_no_cutoff_is_sent_on_a_holiday(park):
    organisation, customer, meter = park
    QuietDay.objects.create(organisation=organisation, date=date(2026, 11, 23))
    spend(customer, "10.01", "c1")
    policy.evaluate(customer.pk, now=NOON)
    policy.evaluate(customer.pk, now=NOON + timedelta(hours=3))
    assert not Command.objects.filter(meter=meter).exists()


def test_protected_customer_is_never_cut(park):
    _organisation, customer, meter = park
    policy.set_protected(None, customer, True, reason="hospital ward")
    spend(customer, "500.00", "c1")
    policy.evaluate(customer.pk, now=NOON + timedelta(days=2))
    assert supply_of(meter).phase == SupplyPhase.ON
    assert not Command.objects.filter(meter=meter, action=CommandAction.TRIP).exists()
    assert Command.objects.filter(meter=meter, action=CommandAction.PROTECT).exists()


def test_topup_restores_supply_when_it_commits(park, django_capture_on_commit_callbacks):
    _organisation, customer, meter = park
    cut_off(customer, meter)
    with django_capture_on_commit_callbacks(execute=True):
        ledger.topup(None, customer, "5.00", "wechat", idempotency_key="pay-1")
    close = Command.objects.get(meter=meter, action=CommandAction.CLOSE)
    assert supply_of(meter).phase == SupplyPhase.RECONNECT_SENT
    acknowledge(close, RelayState.CLOSED)
    assert supply_of(meter).phase == SupplyPhase.ON
    assert Notification.objects.filter(customer=customer, kind="restored").exists()
    assert audit_ledger().ok


def test_topup_below_the_reconnect_threshold_keeps_supply_off(
    park, django_capture_on_commit_callbacks
):
    _organisation, customer, meter = park
    cut_off(customer, meter)
    with django_capture_on_commit_callbacks(execute=True):
        ledger.topup(None, customer, "1.00", "cash")  # balance 0.99 < 0 + 1.00 margin
    assert not Command.objects.filter(meter=meter, action=CommandAction.CLOSE).exists()
    assert supply_of(meter).phase == SupplyPhase.DISCONNECTED


def test_topup_during_the_notice_period_cancels_the_cutoff(park):
    _organisation, customer, meter = park
    spend(customer, "10.01", "c1")
    policy.evaluate(customer.pk, now=NOON)
    ledger.topup(None, customer, "20.00", "cash")
    policy.evaluate(customer.pk, now=NOON + timedelta(minutes=40))
    assert supply_of(meter).phase == SupplyPhase.ON
    assert not Command.objects.filter(meter=meter).exists()


def test_each_alarm_level_is_announced_once(park):
    _organisation, customer, _meter = park
    ledger.topup(None, customer, "90.00", "cash", fee_percent=Decimal("0"))  # 100.00
    for n, amount in enumerate(["55.00", "30.00", "10.00", "1.00"]):
        spend(customer, amount, f"c{n}")
        policy.evaluate(customer.pk, now=NOON)
        policy.evaluate(customer.pk, now=NOON)
    levels = Notification.objects.filter(customer=customer, kind="balance_low", channel="in_app")
    assert sorted(n.context["level"] for n in levels) == [1, 2, 3]


def test_forecast_of_zero_from_the_last_day(park):
    _organisation, customer, _meter = park
    spend(customer, "5.00", "c1")  # 5.00 left, 5.00 spent in the last 24 h
    evaluation = policy.evaluate(customer.pk)
    customer.prepaid_policy.refresh_from_db()
    at = customer.prepaid_policy.forecast_zero_at
    assert evaluation.balance == Decimal("5.00")
    assert timedelta(hours=23) < at - customer.prepaid_policy.evaluated_at <= timedelta(hours=24)


def test_manual_cutoff_is_not_undone_by_the_policy(park):
    _organisation, customer, meter = park
    from submeter.control import services

    user = None
    trip = services.send(user, meter, CommandAction.TRIP, reason="inspection")
    acknowledge(trip, RelayState.OPEN)
    policy.evaluate(customer.pk, now=NOON)
    assert supply_of(meter).manual_hold is True
    assert not Command.objects.filter(meter=meter, action=CommandAction.CLOSE).exists()


def test_operator_restore_lifts_a_manual_hold(park, django_capture_on_commit_callbacks):
    _organisation, _customer, meter = park
    from submeter.control import services

    acknowledge(
        services.send(None, meter, CommandAction.TRIP, reason="inspection"), RelayState.OPEN
    )
    with django_capture_on_commit_callbacks(execute=True):
        policy.restore(None, meter, reason="inspection done")
    assert Command.objects.filter(meter=meter, action=CommandAction.CLOSE).exists()
    assert supply_of(meter).manual_hold is False


def test_operator_restore_is_refused_in_arrears(park):
    _organisation, customer, meter = park
    cut_off(customer, meter)
    with pytest.raises(ServiceError) as refused:
        policy.restore(None, meter, reason="asked nicely")
    assert refused.value.code == "balance_too_low"
    assert supply_of(meter).phase == SupplyPhase.DISCONNECTED


def test_unanswered_trip_is_settled_and_the_decision_taken_again(park):
    _organisation, customer, meter = park
    spend(customer, "10.01", "c1")
    policy.evaluate(customer.pk, now=NOON)
    policy.evaluate(customer.pk, now=NOON + timedelta(minutes=31))
    trip = Command.objects.get(meter=meter)
    trip.state = CommandState.EXPIRED
    trip.save(update_fields=["state"])
    policy.command_settled(trip)
    assert supply_of(meter).phase == SupplyPhase.PENDING_DISCONNECT
    assert policy.run_due(now=NOON + timedelta(minutes=32)) == 1
    assert supply_of(meter).cut_due_at is not None


def test_topup_while_the_cutoff_is_in_flight_ends_with_supply_restored(
    park, django_capture_on_commit_callbacks
):
    _organisation, customer, meter = park
    spend(customer, "10.01", "c1")
    policy.evaluate(customer.pk, now=NOON)
    policy.evaluate(customer.pk, now=NOON + timedelta(minutes=31))
    trip = Command.objects.get(meter=meter, action=CommandAction.TRIP)  # sent, not yet answered
    with django_capture_on_commit_callbacks(execute=True):
        ledger.topup(None, customer, "50.00", "wechat")
    close = Command.objects.get(meter=meter, action=CommandAction.CLOSE)
    acknowledge(trip, RelayState.OPEN)  # the meter runs the trip, then the close
    acknowledge(close, RelayState.CLOSED)
    supply = supply_of(meter)
    assert supply.phase == SupplyPhase.ON
    assert supply.relay_closed is True
