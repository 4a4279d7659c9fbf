"""Commands over MQTT end to end: the embedded broker, the control transport and the
simulator's MQTT gateway, all on real sockets."""

from __future__ import annotations

import pytest

from submeter.control import services
from submeter.control.models import CommandAction, CommandState, SupplyState
from submeter.protocols.mqtt_payloads import RelayState
from tests.control.conftest import wait_for_state


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
