"""Commands over MQTT end to end: the embedded broker, the control transport and the
simulator's MQTT gateway, all on real sockets."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from submeter.control import services
from submeter.control.models import (
    Command,
    CommandAction,
    CommandState,
    ControlSettings,
    SupplyPhase,
    SupplyState,
)
from submeter.control.tasks import run_due
from submeter.mqtt.client import connect, disconnect
from submeter.protocols.mqtt_payloads import AckResult, CommandAck, RelayState, encode_ack
from submeter.protocols.mqtt_topics import TopicKind, build_topic
from submeter.simulator import MeterAction
from tests.control.conftest import wait_for_state, wait_until


@pytest.mark.django_db(transaction=True)
def test_a_trip_opens_the_simulated_relay_and_is_acknowledged(control_transport, make_park):
    park = make_park()
    meter = park.meters[0]
    command = services.send(None, meter, CommandAction.TRIP, reason="arrears")
    wait_for_state(command, CommandState.ACKNOWLEDGED)
    assert park.sim_meter(meter).relay_state is RelayState.OPEN
    assert command.mismatch is False
    assert command.answer["relay_state"] == "open"
    assert SupplyState.objects.get(meter=meter).relay_closed is False


def _sent_then_silent(park, action=CommandAction.TRIP):
    """The gateway is offline when the command goes out: nothing answers."""
    park.sim_gateway.go_offline()
    command = services.send(None, park.meters[0], action, reason="arrears")
    wait_for_state(command, CommandState.SENT)
    return command


def _retry_until_unknown(command):
    now = command.sent_at
    outcomes = []
    for seconds in (1.1, 3.2, 7.3):
        outcomes.append(run_due(now + timedelta(seconds=seconds)))
    command.refresh_from_db()
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_an_unanswered_command_is_retried_with_back_off_then_unknown(control_transport, make_park):
    park = make_park()
    command = _sent_then_silent(park)
    outcomes = _retry_until_unknown(command)
    assert [outcome.get("retried", 0) for outcome in outcomes] == [1, 1, 0]
    assert outcomes[2]["unknown"] == 1
    assert command.state == CommandState.UNKNOWN
    assert command.attempts == 3
    read = Command.objects.get(read_back_for=command)
    assert read.action == CommandAction.READ
    assert SupplyState.objects.get(meter=command.meter).phase == SupplyPhase.UNKNOWN


@pytest.mark.django_db(transaction=True)
def test_a_read_back_showing_the_relay_open_settles_an_unknown_trip_as_acknowledged(
    control_transport, make_park
):
    park = make_park()
    command = _sent_then_silent(park)
    _retry_until_unknown(command)
    # The meter did run the trip; only its answer was lost.
    with park.simulation.lock:
        park.sim_meter(command.meter).apply(MeterAction.TRIP, park.clock.now())
    park.sim_gateway.go_online()
    run_due(timezone.now() + timedelta(seconds=30))
    wait_for_state(command, CommandState.ACKNOWLEDGED)
    assert command.answer["state"] == "open"
    assert SupplyState.objects.get(meter=command.meter).relay_closed is False


@pytest.mark.django_db(transaction=True)
def test_a_read_back_showing_the_relay_closed_settles_an_unknown_trip_as_failed(
    control_transport, make_park
):
    park = make_park()
    command = _sent_then_silent(park)
    _retry_until_unknown(command)
    park.sim_gateway.go_online()
    run_due(timezone.now() + timedelta(seconds=30))
    wait_for_state(command, CommandState.FAILED)
    assert command.error_code == "state_differs"
    assert park.sim_meter(command.meter).relay_state is RelayState.CLOSED
    assert SupplyState.objects.get(meter=command.meter).relay_closed is True


@pytest.mark.django_db(transaction=True)
def test_the_same_command_id_is_sent_again_so_the_meter_runs_it_once(control_transport, make_park):
    park = make_park()
    command = services.send(None, park.meters[0], CommandAction.TRIP, reason="arrears")
    wait_for_state(command, CommandState.ACKNOWLEDGED)
    received = park.sim_gateway.counters.commands_received
    # The same command on the wire again (as a retry would send it): answered, not re-run.
    services._deliver(
        command.pk,
        services._target(command.meter),
        services._wire_command(command, ControlSettings.for_organisation(command.organisation_id)),
    )
    wait_until(lambda: park.sim_gateway.counters.commands_received == received + 1)
    assert park.sim_meter(command.meter).relay_state is RelayState.OPEN
    assert Command.objects.filter(meter=command.meter).count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_ack_reporting_another_state_than_asked_is_flagged(control_transport, make_park):
    park = make_park(online=False)
    command = services.send(None, park.meters[0], CommandAction.TRIP, reason="arrears")
    wait_for_state(command, CommandState.SENT)
    client = connect(control_transport, client_id=f"fake-gw-{uuid.uuid4().hex[:8]}")
    try:
        ack = CommandAck(
            gateway_id="gw-1",
            command_id=command.command_id,
            meter_address=command.meter.address,
            timestamp=timezone.now(),
            result=AckResult.OK,
            relay_state=RelayState.CLOSED,
        )
        topic = build_topic(park.organisation.code, "gw-1", TopicKind.ACKS)
        client.publish(topic, encode_ack(ack), qos=1).wait_for_publish(5)
        wait_for_state(command, CommandState.ACKNOWLEDGED)
    finally:
        disconnect(client)
    assert command.mismatch is True
    assert command.error_code == "state_mismatch"
    supply = SupplyState.objects.get(meter=command.meter)
    assert supply.relay_closed is True
    assert supply.phase == SupplyPhase.UNKNOWN


@pytest.mark.django_db(transaction=True)
def test_a_late_ack_for_a_finished_command_changes_nothing(control_transport, make_park):
    park = make_park()
    command = services.send(None, park.meters[0], CommandAction.TRIP, reason="arrears")
    wait_for_state(command, CommandState.ACKNOWLEDGED)
    late = CommandAck(
        gateway_id="gw-1",
        command_id=command.command_id,
        meter_address=command.meter.address,
        timestamp=timezone.now(),
        result=AckResult.ERROR,
        error_code="meter_refused",
        error_message="late",
    )
    services.record_ack(park.organisation.code, late)
    command.refresh_from_db()
    assert command.state == CommandState.ACKNOWLEDGED
    assert command.error == ""
    assert services.record_ack(park.organisation.code, replace(late, command_id="c-nope")) is None


@pytest.mark.django_db(transaction=True)
def test_a_meter_that_does_not_answer_is_retried_and_then_acknowledged(
    control_transport, make_park
):
    park = make_park()
    sim_meter = park.sim_meter(park.meters[0])
    sim_meter.set_reachable(False, park.clock.now())
    command = services.send(None, park.meters[0], CommandAction.TRIP, reason="arrears")
    wait_until(lambda: Command.objects.get(pk=command.pk).error_code == "meter_timeout")
    command.refresh_from_db()
    assert command.state == CommandState.SENT
    sim_meter.set_reachable(True, park.clock.now())
    assert run_due(command.next_attempt_at)["retried"] == 1
    wait_for_state(command, CommandState.ACKNOWLEDGED)
    assert command.attempts == 2


@pytest.mark.django_db(transaction=True)
def test_a_power_limit_is_acknowledged_and_recorded(control_transport, make_park, admin_user):
    park = make_park()
    meter = park.meters[0]
    command = services.set_power_limit(admin_user, meter, Decimal("2.5"))
    wait_for_state(command, CommandState.ACKNOWLEDGED)
    assert park.sim_meter(meter).power_limit_kw == Decimal("2.5")
    assert SupplyState.objects.get(meter=meter).power_limit_kw == Decimal("2.500")


@pytest.mark.django_db(transaction=True)
def test_a_restore_round_trip_takes_milliseconds(control_transport, make_park):
    park = make_park()
    meter = park.meters[0]
    wait_for_state(services.send(None, meter, CommandAction.TRIP), CommandState.ACKNOWLEDGED)
    started = time.monotonic()
    command = services.send(None, meter, CommandAction.CLOSE, reason="topped up")
    wait_for_state(command, CommandState.ACKNOWLEDGED, timeout_s=2.0)
    assert time.monotonic() - started < 2.0
    assert park.sim_meter(meter).relay_state is RelayState.CLOSED
