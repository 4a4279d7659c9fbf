"""A gateway that publishes over MQTT (one paho client per gateway).

* Every interval it publishes the readings of its reachable meters on
  `submeter/<org>/<gateway>/up/readings`, up to 100 meters per message, QoS 1.
* It publishes its meters' events (relay opened, valve closed, protect set…) on `up/events`,
  and `gateway_started` when it starts.
* It runs each command from `down/commands` on the meter and answers on `up/acks` with the
  relay (or valve) state afterwards. A `command_id` it has already run is answered again with
  the first result and not run twice. Commands for unknown or unreachable meters, expired
  ones and invalid payloads are answered with an error and not remembered, so that a retry
  with the same id can still succeed. `expires_at` is compared with the wall clock (the
  platform's time), not the accelerated simulated clock.
* Outage (store-and-forward): `go_offline` waits for the broker to acknowledge what was sent,
  then disconnects; readings and events are kept in order. `go_online` reconnects and
  replays them, oldest first, before anything new. Commands published while the gateway is
  offline are not delivered (clean session): the platform retries.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt

from submeter.mqtt.client import MqttConnectError, MqttProtocol, connect, disconnect
from submeter.protocols.errors import PayloadError
from submeter.protocols.mqtt_payloads import (
    MAX_EVENTS_PER_MESSAGE,
    MAX_READINGS_PER_MESSAGE,
    AckResult,
    CloseMode,
    Command,
    CommandAck,
    CommandAction,
    EventsMessage,
    EventType,
    MeterEvent,
    MeterReading,
    ReadingsMessage,
    encode_ack,
    encode_events,
    encode_readings,
    parse_command,
)
from submeter.protocols.mqtt_topics import IDENTIFIER_PATTERN, TopicKind, build_topic
from submeter.simulator.gateway import Gateway
from submeter.simulator.meters import (
    CommandRefused,
    ElectricityMeter,
    MeterAction,
    WaterMeter,
)

if TYPE_CHECKING:
    from submeter.simulator.simulation import Simulation

logger = logging.getLogger(__name__)

QOS = 1
FLUSH_TIMEOUT_S = 10.0
RECONNECT_RETRY_S = 5.0
REMEMBERED_COMMANDS = 10_000
MESSAGE_ID_NAMESPACE = uuid.UUID("6f1d8f7e-3c55-4d0e-9f59-5a4f2a1c0b7e")

_ACTIONS: dict[CommandAction, MeterAction] = {
    CommandAction.TRIP: MeterAction.TRIP,
    CommandAction.PROTECT: MeterAction.PROTECT,
    CommandAction.UNPROTECT: MeterAction.UNPROTECT,
    CommandAction.VALVE_OPEN: MeterAction.VALVE_OPEN,
    CommandAction.VALVE_CLOSE: MeterAction.VALVE_CLOSE,
}


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    topic: str
    payload: bytes
    reading_count: int = 0
    kept_over_outage: bool = True
    """Readings and events are replayed after an outage; acks and read replies are not."""


@dataclass(slots=True)
class MqttGatewayCounters:
    """What the broker acknowledged (PUBACK), and the commands received."""

    readings_published: int = 0
    messages_published: int = 0
    commands_received: int = 0
    commands_acknowledged: int = 0


class MqttGateway(Gateway):
    pushes_readings = True

    def __init__(
        self,
        simulation: Simulation,
        gateway_id: str,
        meter_addresses: Sequence[str],
        *,
        mqtt_url: str,
        organisation: str,
        protocol: MqttProtocol = MqttProtocol.V5,
        connect_timeout_s: float = 10.0,
    ) -> None:
        super().__init__(simulation, gateway_id, meter_addresses)
        self.mqtt_url = mqtt_url
        self.organisation = organisation
        self.protocol = protocol
        self.connect_timeout_s = connect_timeout_s
        self.readings_topic = build_topic(organisation, gateway_id, TopicKind.READINGS)
        self.events_topic = build_topic(organisation, gateway_id, TopicKind.EVENTS)
        self.acks_topic = build_topic(organisation, gateway_id, TopicKind.ACKS)
        self.commands_topic = build_topic(organisation, gateway_id, TopicKind.COMMANDS)
        self.counters = MqttGatewayCounters()
        self._client: mqtt.Client | None = None
        self._wants_online = False
        self._last_connect_attempt = 0.0
        self._buffer: deque[OutgoingMessage] = deque()
        self._lock = threading.Lock()
        self._in_flight: dict[int, OutgoingMessage] = {}
        """Published on the current client, not yet acknowledged (PUBACK), by message id."""
        self._acknowledged_early: set[int] = set()
        """Message ids acknowledged before `_publish` had recorded them."""
        self._all_acknowledged = threading.Condition(self._lock)
        self._answered: OrderedDict[str, CommandAck] = OrderedDict()

    @property
    def endpoint(self) -> str:
        return f"{self.mqtt_url} submeter/{self.organisation}/{self.gateway_id}/"

    @property
    def buffered_messages(self) -> int:
        return len(self._buffer)

    # --- connection ------------------------------------------------------------------------

    def start(self) -> None:
        self._wants_online = True
        self._connect()
        self.deliver_events([MeterEvent(EventType.GATEWAY_STARTED, self.simulation.time)])

    def stop(self) -> None:
        self._wants_online = False
        self._disconnect()

    def go_offline(self) -> None:
        self._wants_online = False
        self._disconnect()

    def go_online(self) -> None:
        self._wants_online = True
        self._connect()

    def _connect(self) -> None:
        if self._client is not None:
            return
        self._last_connect_attempt = time.monotonic()
        try:
            client = connect(
                self.mqtt_url,
                client_id=f"submeter-sim-{self.organisation}-{self.gateway_id}"[:64],
                protocol=self.protocol,
                subscriptions=[(self.commands_topic, QOS)],
                on_message=self._on_message,
                timeout_s=self.connect_timeout_s,
            )
        except MqttConnectError as exc:
            logger.warning("gateway %s cannot connect: %s", self.gateway_id, exc)
            return
        client.on_publish = self._on_publish
        self._client = client
        self.online = True
        self._flush_buffer()

    def _disconnect(self) -> None:
        """Wait (bounded) for the broker to acknowledge what was sent, then disconnect. What
        was not acknowledged goes back to the front of the buffer, to be sent again."""
        client = self._client
        if client is None:
            return
        deadline = time.monotonic() + FLUSH_TIMEOUT_S
        with self._all_acknowledged:
            while self._in_flight and (remaining := deadline - time.monotonic()) > 0:
                self._all_acknowledged.wait(remaining)
        self.online = False
        self._client = None
        disconnect(client)
        with self._lock:
            unacknowledged = [
                message for message in self._in_flight.values() if message.kept_over_outage
            ]
            self._in_flight.clear()
            self._acknowledged_early.clear()
        self._buffer.extendleft(reversed(unacknowledged))

    def _ensure_online(self) -> None:
        """Retry a failed connection now and then while the gateway should be online."""
        if (
            self._wants_online
            and self._client is None
            and time.monotonic() - self._last_connect_attempt >= RECONNECT_RETRY_S
        ):
            self._connect()

    # --- sending ---------------------------------------------------------------------------

    def _message_id(self, kind: str, at: datetime, batch: int) -> str:
        name = f"{self.organisation}/{self.gateway_id}/{kind}/{at.isoformat()}/{batch}"
        return str(uuid.uuid5(MESSAGE_ID_NAMESPACE, name))

    def deliver_readings(self, at: datetime, readings: list[MeterReading]) -> None:
        for batch, start in enumerate(range(0, len(readings), MAX_READINGS_PER_MESSAGE)):
            chunk = tuple(readings[start : start + MAX_READINGS_PER_MESSAGE])
            message = ReadingsMessage(self.gateway_id, self._message_id("r", at, batch), chunk)
            self._send(OutgoingMessage(self.readings_topic, encode_readings(message), len(chunk)))

    def deliver_events(self, events: list[MeterEvent]) -> None:
        for start in range(0, len(events), MAX_EVENTS_PER_MESSAGE):
            chunk = tuple(events[start : start + MAX_EVENTS_PER_MESSAGE])
            message = EventsMessage(self.gateway_id, str(uuid.uuid4()), chunk)
            self._send(OutgoingMessage(self.events_topic, encode_events(message)))

    def _send(self, message: OutgoingMessage) -> None:
        self._ensure_online()
        if self._client is None or self._buffer:
            self._buffer.append(message)
            self._flush_buffer()
            return
        self._publish(self._client, message)

    def _flush_buffer(self) -> None:
        client = self._client
        while client is not None and self._buffer:
            self._publish(client, self._buffer.popleft())

    def _publish(self, client: mqtt.Client, message: OutgoingMessage) -> None:
        info = client.publish(message.topic, message.payload, qos=QOS)
        with self._lock:
            if info.mid in self._acknowledged_early:
                self._acknowledged_early.discard(info.mid)
                self._count(message)
            else:
                self._in_flight[info.mid] = message

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason_code: Any, properties: Any
    ) -> None:
        with self._lock:
            message = self._in_flight.pop(mid, None)
            if message is None:
                self._acknowledged_early.add(mid)
                return
            self._count(message)
            if not self._in_flight:
                self._all_acknowledged.notify_all()

    def _count(self, message: OutgoingMessage) -> None:
        """Count a message the broker acknowledged (called with the lock held)."""
        self.counters.messages_published += 1
        self.counters.readings_published += message.reading_count
        if message.topic == self.acks_topic:
            self.counters.commands_acknowledged += 1

    # --- commands --------------------------------------------------------------------------

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            responses = self.respond_to_command(bytes(message.payload))
        except Exception:
            logger.exception("gateway %s failed on a command", self.gateway_id)
            return
        for response in responses:
            self._publish(client, response)

    def respond_to_command(self, payload: bytes) -> list[OutgoingMessage]:
        """Run one `down/commands` payload and return what to publish: the ack, then for a
        `read` the meter's readings now. Nothing if the payload does not even say which
        command it is. Replies go out at once on the network thread, never buffered."""
        with self._lock:
            self.counters.commands_received += 1
        try:
            command = parse_command(payload)
        except PayloadError as exc:
            ids = _command_ids(payload)
            if ids is None:
                logger.warning("gateway %s: unreadable command: %s", self.gateway_id, exc)
                return []
            return [self._ack_message(self._error_ack(*ids, "invalid_command", str(exc)[:256]))]
        ack = self._run_command(command)
        responses = [self._ack_message(ack)]
        if command.action is CommandAction.READ and ack.result is AckResult.OK:
            responses += self._requested_readings(command)
        return responses

    def _ack_message(self, ack: CommandAck) -> OutgoingMessage:
        return OutgoingMessage(self.acks_topic, encode_ack(ack), kept_over_outage=False)

    def _run_command(self, command: Command) -> CommandAck:
        with self._lock:
            previous = self._answered.get(command.command_id)
        if previous is not None:
            return previous
        meter = self.meters_by_address.get(command.meter_address)
        if meter is None:
            return self._error_ack(
                command.command_id,
                command.meter_address,
                "unknown_meter",
                f"no meter {command.meter_address} behind gateway {self.gateway_id}",
            )
        if command.expires_at is not None and command.expires_at < datetime.now(UTC):
            return self._error_ack(
                command.command_id, meter.address, "expired", "the command expired"
            )
        with self.simulation.lock:
            if not meter.reachable:
                return self._error_ack(
                    command.command_id, meter.address, "meter_timeout", "the meter does not answer"
                )
            try:
                self._run(meter, command)
            except CommandRefused as exc:
                ack = self._ack(meter, command.command_id, exc.code, exc.message)
            else:
                ack = self._ack(meter, command.command_id)
        with self._lock:
            self._answered[command.command_id] = ack
            while len(self._answered) > REMEMBERED_COMMANDS:
                self._answered.popitem(last=False)
        return ack

    def _run(self, meter: ElectricityMeter | WaterMeter, command: Command) -> None:
        now = self.simulation.time
        action = command.action
        if action is CommandAction.CLOSE:
            allowed = command.close_mode is CloseMode.ALLOWED
            meter.apply(MeterAction.CLOSE_ALLOWED if allowed else MeterAction.CLOSE_DIRECTLY, now)
        elif action in _ACTIONS:
            meter.apply(_ACTIONS[action], now)
        elif action is CommandAction.SET_PRICE:
            prices = {
                int(rate.removeprefix("rate")): price
                for rate, price in (command.prices or {}).items()
            }
            meter.set_prices(prices)
        elif action is CommandAction.SET_POWER_LIMIT:
            if not isinstance(meter, ElectricityMeter):
                raise CommandRefused("unsupported", "a water meter has no power limit")
            meter.set_power_limit(command.power_limit_kw or Decimal(0))

    def _requested_readings(self, command: Command) -> list[OutgoingMessage]:
        meter = self.meters_by_address[command.meter_address]
        with self.simulation.lock:
            at = self.simulation.time
            registers = meter.registers()
        if command.registers is not None:
            registers = {name: registers[name] for name in command.registers if name in registers}
        if not registers:
            return []
        message = ReadingsMessage(
            self.gateway_id,
            self._message_id(f"read-{command.command_id}", at, 0),
            (MeterReading(meter.address, at, registers),),
        )
        return [
            OutgoingMessage(
                self.readings_topic, encode_readings(message), 1, kept_over_outage=False
            )
        ]

    def _ack(
        self,
        meter: ElectricityMeter | WaterMeter,
        command_id: str,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> CommandAck:
        return CommandAck(
            gateway_id=self.gateway_id,
            command_id=command_id,
            meter_address=meter.address,
            timestamp=self.simulation.time,
            result=AckResult.OK if error_code is None else AckResult.ERROR,
            relay_state=meter.relay_state if isinstance(meter, ElectricityMeter) else None,
            valve_state=meter.valve_state if isinstance(meter, WaterMeter) else None,
            error_code=error_code,
            error_message=error_message,
        )

    def _error_ack(
        self, command_id: str, meter_address: str, error_code: str, error_message: str
    ) -> CommandAck:
        return CommandAck(
            gateway_id=self.gateway_id,
            command_id=command_id,
            meter_address=meter_address,
            timestamp=self.simulation.time,
            result=AckResult.ERROR,
            error_code=error_code,
            error_message=error_message,
        )


def _command_ids(payload: bytes) -> tuple[str, str] | None:
    """`command_id` and `meter_address` of a payload that is otherwise invalid, if readable."""
    try:
        document = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    command_id, meter_address = document.get("command_id"), document.get("meter_address")
    if (
        isinstance(command_id, str)
        and isinstance(meter_address, str)
        and IDENTIFIER_PATTERN.fullmatch(command_id)
        and IDENTIFIER_PATTERN.fullmatch(meter_address)
    ):
        return command_id, meter_address
    return None
