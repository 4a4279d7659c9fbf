"""How commands reach meters, and how their answers come back.

* MQTT gateways: `CommandPublisher`, one process-wide paho client publishing QoS 1 to
  `submeter/<org>/<gateway>/down/commands`. It connects lazily to `settings.MQTT_URL` (or the URL
  given to `start`), runs paho's network thread, sets TCP_NODELAY on its socket (paho never does;
  without it every QoS 1 round trip gains 40–90 ms of delayed-ACK wait) and caps what is in
  flight: paho's message ids wrap at 65 535, so more unacknowledged messages than that stall it.
* `AckListener`: its own paho client subscribed to `submeter/<org or +>/+/up/acks` (QoS 1); each
  ack goes straight to `services.record_ack` on the network thread.
* Modbus TCP and DL/T 645 TCP gateways: the command is a register write or a 1CH frame over the
  polling clients, run on a small thread pool; the meter's reply (and the relay state read back
  right after) is turned into a `CommandAck` and recorded the same way.

`start(url)` starts the publisher and the listener for a process (the worker, the demo, a test);
`stop()` stops them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import paho.mqtt.client as mqtt
from django.conf import settings
from django.db import close_old_connections

from submeter.metering.polling import REPLY_TIMEOUT_S, Dlt645Connection
from submeter.mqtt.client import (
    DEFAULT_KEEPALIVE_S,
    DEFAULT_TIMEOUT_S,
    MqttProtocol,
    connect,
    create_client,
    disconnect,
    parse_mqtt_url,
)
from submeter.protocols import dlt645
from submeter.protocols.errors import PayloadError, ProtocolError
from submeter.protocols.modbus_maps import (
    REGISTER_MAPS,
    RELAY_CLOSED,
    RELAY_OPEN,
    decode_register,
    encode_register,
)
from submeter.protocols.mqtt_payloads import (
    AckResult,
    CloseMode,
    Command,
    CommandAck,
    CommandAction,
    RelayState,
    encode_command,
    parse_ack,
)
from submeter.protocols.mqtt_topics import TopicKind, build_topic, parse_topic, subscription_filter

logger = logging.getLogger(__name__)

QOS = 1
MAX_IN_FLIGHT = 10_000
"""Published and not yet acknowledged by the broker; well under paho's 65 535 message ids."""
PAHO_MAX_INFLIGHT = 1_000
"""paho's own window; past it paho queues messages itself (they still hold a message id)."""
PUBLISH_WAIT_S = 5.0
POLLED_WORKERS = 4
STATUS_WORD_3 = "04000503"
TRANSIENT_ERRORS = frozenset({"meter_timeout", "gateway_unreachable", "transport_busy"})
"""Ack error codes after which the same command is sent again (the meter may not have run it)."""


class TransportError(Exception):
    """The command could not be handed to the network; it is sent again later."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where one command goes: the meter and the gateway in front of it."""

    organisation_id: int
    organisation_code: str
    gateway_serial: str
    gateway_protocol: str
    gateway_address: str
    meter_address: str
    meter_model: str = ""


def set_nodelay(client: mqtt.Client) -> None:
    """TCP_NODELAY on the connected client's socket (the on-open hook sets it too; this also
    covers a socket paho opened before that hook was installed)."""
    sock = client.socket()
    if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class CommandPublisher:
    """One paho client for every command this process sends."""

    def __init__(self, url: str, *, max_in_flight: int = MAX_IN_FLIGHT) -> None:
        self.url = url
        self._client: mqtt.Client | None = None
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self.published = 0

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.is_connected()

    def start(self) -> None:
        with self._lock:
            if self._client is not None:
                return
            # MQTT 3.1.1: the publisher needs nothing of MQTT 5, and paho's in-flight window can
            # only be set before the connection.
            endpoint = parse_mqtt_url(self.url)
            client = create_client(
                endpoint,
                client_id=f"submeter-commands-{uuid.uuid4().hex[:10]}",
                protocol=MqttProtocol.V311,
            )
            client.max_inflight_messages_set(PAHO_MAX_INFLIGHT)
            connected = threading.Event()
            client.on_connect = lambda *args: connected.set()
            client.on_publish = self._on_publish
            try:
                client.connect(endpoint.host, endpoint.port, keepalive=DEFAULT_KEEPALIVE_S)
            except OSError as exc:
                raise TransportError(f"cannot reach the MQTT broker at {endpoint}: {exc}") from exc
            client.loop_start()
            if not connected.wait(DEFAULT_TIMEOUT_S) or not client.is_connected():
                client.disconnect()
                client.loop_stop()
                raise TransportError(f"the MQTT broker at {endpoint} did not accept us")
            set_nodelay(client)
            self._client = client

    def stop(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            disconnect(client)

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason_code: Any, properties: Any
    ) -> None:
        # More PUBACKs than publishes happen after a reconnection's redelivery.
        with contextlib.suppress(ValueError):
            self._slots.release()

    def publish(self, target: Target, command: Command) -> None:
        """Hand one command to paho (QoS 1). Raises TransportError when there is no broker or
        too much is in flight for `PUBLISH_WAIT_S`."""
        if self._client is None:
            try:
                self.start()
            except (ConnectionError, ValueError) as exc:
                raise TransportError(str(exc)) from exc
        client = self._client
        if client is None:
            raise TransportError("the command publisher is stopped")
        if not self._slots.acquire(timeout=PUBLISH_WAIT_S):
            raise TransportError("too many commands in flight")
        topic = build_topic(target.organisation_code, target.gateway_serial, TopicKind.COMMANDS)
        info = client.publish(topic, encode_command(command), qos=QOS)
        if info.rc != mqtt.MQTT_ERR_SUCCESS and info.rc != mqtt.MQTT_ERR_NO_CONN:
            self._slots.release()
            raise TransportError(f"publish failed: {mqtt.error_string(info.rc)}")
        self.published += 1


AckHandler = Callable[[str, CommandAck], object]


@dataclass(slots=True)
class AckStats:
    received: int = 0
    invalid: int = 0
    failed: int = 0


class AckListener:
    """Subscribes to the acks of one organisation (or all) and records each as it arrives."""

    def __init__(
        self, url: str, *, organisation: str = "+", handler: AckHandler | None = None
    ) -> None:
        self.url = url
        self.organisation = organisation
        self.handler = handler
        self.stats = AckStats()
        self._client: mqtt.Client | None = None

    def start(self) -> None:
        if self._client is not None:
            return
        client = connect(
            self.url,
            client_id=f"submeter-acks-{uuid.uuid4().hex[:10]}",
            subscriptions=[(subscription_filter(TopicKind.ACKS, self.organisation), QOS)],
            on_message=self._on_message,
        )
        set_nodelay(client)
        self._client = client

    def stop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            disconnect(client)
        close_old_connections()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.stats.received += 1
        try:
            topic = parse_topic(message.topic)
            ack = parse_ack(bytes(message.payload))
        except (PayloadError, ProtocolError) as exc:
            self.stats.invalid += 1
            logger.warning("unreadable ack on %s: %s", message.topic, exc)
            return
        handler = self.handler or _record_ack
        try:
            handler(topic.organisation, ack)
        except Exception:
            self.stats.failed += 1
            logger.exception("recording ack %s failed", ack.command_id)


def _record_ack(organisation_code: str, ack: CommandAck) -> object:
    from submeter.control.services import record_ack

    return record_ack(organisation_code, ack)


# --- polled gateways (Modbus TCP, DL/T 645 TCP) ---------------------------------------------


_RELAY_1CH = {
    CommandAction.TRIP: dlt645.RelayAction.TRIP,
    CommandAction.CLOSE: dlt645.RelayAction.CLOSE_DIRECTLY,
    CommandAction.PROTECT: dlt645.RelayAction.PROTECT,
    CommandAction.UNPROTECT: dlt645.RelayAction.PROTECT_RELEASE,
}


def _host_port(address: str) -> tuple[str, int]:
    host, _sep, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise TransportError(f"gateway address {address!r} is not host:port")
    return host, int(port)


def _ack(
    target: Target,
    command: Command,
    relay_state: RelayState | None = None,
    error_code: str | None = None,
    error_message: str = "",
) -> CommandAck:
    return CommandAck(
        gateway_id=target.gateway_serial,
        command_id=command.command_id,
        meter_address=target.meter_address,
        timestamp=datetime.now(UTC),
        result=AckResult.OK if error_code is None else AckResult.ERROR,
        relay_state=relay_state if error_code is None else None,
        error_code=error_code,
        error_message=error_message[:256] if error_code else None,
    )


async def run_dlt645(target: Target, command: Command) -> CommandAck:
    """A 1CH frame (or, for READ, nothing), then status word 3 read back for the relay state."""
    host, port = _host_port(target.gateway_address)
    action = command.action
    if action not in _RELAY_1CH and action is not CommandAction.READ:
        return _ack(target, command, None, "unsupported", f"{action} is not sent over DL/T 645")
    try:
        connection = await Dlt645Connection.open(host, port)
    except (OSError, TimeoutError) as exc:
        return _ack(target, command, None, "gateway_unreachable", str(exc) or type(exc).__name__)
    try:
        if action in _RELAY_1CH:
            relay_action = _RELAY_1CH[action]
            if action is CommandAction.CLOSE and command.close_mode is CloseMode.ALLOWED:
                relay_action = dlt645.RelayAction.CLOSE_ALLOWED
            deadline = command.expires_at or datetime.now(UTC) + timedelta(minutes=10)
            frame = dlt645.encode_relay_command(
                dlt645.RelayCommand(target.meter_address, relay_action, deadline)
            )
            reply = await connection.request(frame, target.meter_address)
            try:
                dlt645.decode_relay_reply(reply)
            except dlt645.Dlt645ErrorReply as exc:
                return _ack(target, command, None, "meter_refused", str(exc))
        request = dlt645.encode_read_request(target.meter_address, STATUS_WORD_3)
        status = dlt645.decode_read_reply(
            await connection.request(request, target.meter_address)
        ).value
    except (OSError, TimeoutError) as exc:
        return _ack(target, command, None, "meter_timeout", str(exc) or type(exc).__name__)
    except ProtocolError as exc:
        return _ack(target, command, None, "meter_refused", str(exc))
    finally:
        await connection.close()
    if not isinstance(status, dlt645.StatusWord3):
        return _ack(target, command, None, "bad_reply", "status word 3 was not a status word")
    return _ack(target, command, RelayState.OPEN if status.relay_open else RelayState.CLOSED)


_MODBUS_GATEWAY_TARGET_FAILED = 0x0B


async def run_modbus(target: Target, command: Command) -> CommandAck:
    """A holding-register write (relay, 保电, price, power limit), then `relay_state` read back."""
    from pymodbus.client import AsyncModbusTcpClient

    host, port = _host_port(target.gateway_address)
    register_map = REGISTER_MAPS.get(
        (target.meter_model or "dtsd1352").lower(), REGISTER_MAPS["dtsd1352"]
    )
    writes: dict[str, Decimal] = {}
    action = command.action
    if action is CommandAction.TRIP:
        writes["relay_state"] = RELAY_OPEN
    elif action is CommandAction.CLOSE:
        writes["relay_state"] = RELAY_CLOSED
    elif action in (CommandAction.PROTECT, CommandAction.UNPROTECT):
        writes["protect_state"] = Decimal(int(action is CommandAction.PROTECT))
    elif action is CommandAction.SET_POWER_LIMIT:
        writes["power_limit_kw"] = command.power_limit_kw or Decimal(0)
    elif action is CommandAction.SET_PRICE and command.prices:
        writes["price_cny_per_kwh"] = next(iter(command.prices.values()))
    elif action is not CommandAction.READ:
        return _ack(target, command, None, "unsupported", f"{action} is not sent over Modbus")
    try:
        device_id = int(target.meter_address.split(":")[0])
    except ValueError:
        return _ack(target, command, None, "unsupported", "the meter address is not a unit id")
    client = AsyncModbusTcpClient(host, port=port, timeout=REPLY_TIMEOUT_S, retries=1)
    if not await client.connect():
        return _ack(target, command, None, "gateway_unreachable", f"cannot connect to {host}")
    try:
        for name, value in writes.items():
            register = register_map.register(name)
            answer = await client.write_registers(
                register.address, list(encode_register(register, value)), device_id=device_id
            )
            if answer.isError():
                code = getattr(answer, "exception_code", 0)
                transient = code == _MODBUS_GATEWAY_TARGET_FAILED
                error = "meter_timeout" if transient else "meter_refused"
                return _ack(target, command, None, error, f"Modbus exception {code}")
        relay = register_map.register("relay_state")
        answer = await client.read_holding_registers(
            relay.address, count=relay.count, device_id=device_id
        )
        if answer.isError():
            return _ack(target, command, None, "meter_timeout", f"Modbus error {answer}")
        value = decode_register(relay, answer.registers)
    except (OSError, TimeoutError) as exc:
        return _ack(target, command, None, "meter_timeout", str(exc) or type(exc).__name__)
    except (KeyError, ProtocolError) as exc:
        return _ack(target, command, None, "unsupported", str(exc))
    finally:
        client.close()
    return _ack(target, command, RelayState.OPEN if value == RELAY_OPEN else RelayState.CLOSED)


_POLLED_RUNNERS = {"dlt645_tcp": run_dlt645, "modbus_tcp": run_modbus}


# --- the process-wide transport ---------------------------------------------------------------


@dataclass
class _Transport:
    publisher: CommandPublisher | None = None
    listener: AckListener | None = None
    pool: ThreadPoolExecutor | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


_transport = _Transport()


def start(url: str | None = None, *, organisation: str = "+", listen: bool = True) -> None:
    """Start the command publisher and (with `listen`) the ack listener for `url` (default
    `settings.MQTT_URL`). Idempotent; `stop()` undoes it."""
    url = url or settings.MQTT_URL
    if not url:
        raise TransportError("no MQTT broker is configured (MQTT_URL)")
    with _transport.lock:
        if _transport.publisher is None or _transport.publisher.url != url:
            if _transport.publisher is not None:
                _transport.publisher.stop()
            _transport.publisher = CommandPublisher(url)
        _transport.publisher.start()
        if listen and _transport.listener is None:
            listener = AckListener(url, organisation=organisation)
            listener.start()
            _transport.listener = listener


def stop() -> None:
    with _transport.lock:
        publisher, listener, pool = _transport.publisher, _transport.listener, _transport.pool
        _transport.publisher = _transport.listener = _transport.pool = None
    if listener is not None:
        listener.stop()
    if publisher is not None:
        publisher.stop()
    if pool is not None:
        pool.shutdown(wait=True)


def ack_listener() -> AckListener | None:
    return _transport.listener


def _publisher() -> CommandPublisher:
    with _transport.lock:
        if _transport.publisher is None:
            if not settings.MQTT_URL:
                raise TransportError("no MQTT broker is configured (MQTT_URL)")
            _transport.publisher = CommandPublisher(settings.MQTT_URL)
        return _transport.publisher


def _pool() -> ThreadPoolExecutor:
    with _transport.lock:
        if _transport.pool is None:
            _transport.pool = ThreadPoolExecutor(POLLED_WORKERS, thread_name_prefix="commands")
        return _transport.pool


def deliver(target: Target, command: Command) -> None:
    """Send one command through the meter's gateway. MQTT returns once paho has it; a polled
    gateway's exchange runs on the pool and its answer is recorded like an MQTT ack. Raises
    TransportError when it could not even be handed over."""
    runner = _POLLED_RUNNERS.get(target.gateway_protocol)
    if runner is None:
        _publisher().publish(target, command)
        return
    _pool().submit(_run_polled, runner, target, command)


def _run_polled(runner: Any, target: Target, command: Command) -> None:
    try:
        ack = asyncio.run(runner(target, command))
    except TransportError as exc:
        ack = _ack(target, command, None, "gateway_unreachable", str(exc))
    try:
        from submeter.control.services import record_ack

        record_ack(target.organisation_id, ack)
    except Exception:
        logger.exception("recording the answer to %s failed", command.command_id)
    finally:
        close_old_connections()
