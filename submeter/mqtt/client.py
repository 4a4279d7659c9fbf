"""paho-mqtt 2.x clients from an `mqtt://host:port` URL, connected with a bounded wait.

    client = connect("mqtt://127.0.0.1:1883", client_id="ingest-1",
                     subscriptions=[("submeter/+/+/up/readings", 1)], on_message=handle)
    client.publish(topic, payload, qos=1)
    disconnect(client)

* URLs: `mqtt://[user[:password]@]host[:port]` (port 1883) or `mqtts://…` (TLS, port 8883).
* MQTT 5 by default. If the broker refuses it ("unsupported protocol version", as the embedded
  amqtt broker does), `connect` retries once with MQTT 3.1.1 unless `fallback_to_v311=False`.
  `client.protocol` tells which one was used (`paho.mqtt.client.MQTTv5` or `MQTTv311`).
* TCP_NODELAY is set on every socket the client opens, reconnections included (paho never sets
  it; without it a QoS 1 round trip gains 40–90 ms of delayed-ACK wait).
* `subscriptions` are made on every (re)connection, and the first ones have been acknowledged
  by the broker when `connect` returns.
* The network thread runs (`loop_start`) and reconnects by itself after a lost connection
  (1 s, doubling up to 10 s). Callbacks run on that thread: keep them short, and never call
  `disconnect` while holding a lock that a callback takes.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

DEFAULT_PORT = 1883
DEFAULT_TLS_PORT = 8883
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_KEEPALIVE_S = 30
UNSUPPORTED_PROTOCOL_VERSION = 0x84
"""CONNACK reason (MQTT 3.1.1 return code 1, which paho reports as 0x84)."""

MessageHandler = Callable[[mqtt.Client, Any, mqtt.MQTTMessage], None]


class MqttProtocol(StrEnum):
    V5 = "5"
    V311 = "3.1.1"

    @property
    def paho_version(self) -> MQTTProtocolVersion:
        if self is MqttProtocol.V5:
            return MQTTProtocolVersion.MQTTv5
        return MQTTProtocolVersion.MQTTv311


class MqttConnectError(ConnectionError):
    """The broker could not be reached, refused the connection, or did not answer in time."""

    def __init__(self, message: str, reason_code: int | None = None) -> None:
        super().__init__(message)
        self.reason_code = reason_code


@dataclass(frozen=True, slots=True)
class MqttUrl:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None

    def __str__(self) -> str:
        scheme = "mqtts" if self.tls else "mqtt"
        return f"{scheme}://{self.host}:{self.port}"


_SCHEMES = {"mqtt": False, "tcp": False, "mqtts": True, "ssl": True}


def parse_mqtt_url(url: str) -> MqttUrl:
    """`mqtt://user:pw@host:1883` → MqttUrl; raises ValueError for anything else."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in _SCHEMES:
        raise ValueError(f"MQTT URL {url!r} must start with mqtt:// or mqtts://")
    if not parts.hostname:
        raise ValueError(f"MQTT URL {url!r} has no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"MQTT URL {url!r} must be only scheme, host and port")
    tls = _SCHEMES[parts.scheme]
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"MQTT URL {url!r} has an invalid port") from None
    return MqttUrl(
        host=parts.hostname,
        port=port or (DEFAULT_TLS_PORT if tls else DEFAULT_PORT),
        tls=tls,
        username=urllib.parse.unquote(parts.username) if parts.username else None,
        password=urllib.parse.unquote(parts.password) if parts.password else None,
    )


def set_tcp_nodelay(client: mqtt.Client, userdata: Any, sock: Any) -> None:
    """paho `on_socket_open` callback: disable Nagle's algorithm on the new socket."""
    if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _Handshake:
    """Tracks the first CONNACK and SUBACK; re-subscribes on every later reconnection."""

    def __init__(self, subscriptions: Sequence[tuple[str, int]]) -> None:
        self.subscriptions = list(subscriptions)
        self.done = threading.Event()
        self.failure: MqttConnectError | None = None
        self._first_subscribe_mid: int | None = None

    def on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        if reason_code.is_failure:
            if not self.done.is_set():
                self.failure = MqttConnectError(
                    f"the broker refused the connection: {reason_code}", reason_code.value
                )
                self.done.set()
            return
        if not self.subscriptions:
            self.done.set()
            return
        _, mid = client.subscribe(self.subscriptions)
        if self._first_subscribe_mid is None:
            self._first_subscribe_mid = mid

    def on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Any,
    ) -> None:
        if mid != self._first_subscribe_mid or self.done.is_set():
            return
        refused = [str(code) for code in reason_codes if code.is_failure]
        if refused:
            self.failure = MqttConnectError(f"the broker refused a subscription: {refused}")
        self.done.set()


def create_client(
    url: str | MqttUrl,
    *,
    client_id: str = "",
    protocol: MqttProtocol = MqttProtocol.V5,
    userdata: Any = None,
    manual_ack: bool = False,
    persistent_session: bool = False,
) -> mqtt.Client:
    """A configured, not yet connected client: credentials and TLS from the URL, TCP_NODELAY
    on every socket, reconnection back-off of 1–10 s.

    `manual_ack`: QoS 1 messages are acknowledged only by `client.ack(mid, qos)`.
    `persistent_session` (needs a fixed `client_id`): the broker keeps the subscriptions and
    unacknowledged messages while the client is away (MQTT 3.1.1 clean session off; with MQTT 5
    see `connect`)."""
    endpoint = parse_mqtt_url(url) if isinstance(url, str) else url
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=protocol.paho_version,
        userdata=userdata,
        clean_session=(not persistent_session) if protocol is MqttProtocol.V311 else None,
        manual_ack=manual_ack,
    )
    client.on_socket_open = set_tcp_nodelay
    if endpoint.username is not None:
        client.username_pw_set(endpoint.username, endpoint.password)
    if endpoint.tls:
        client.tls_set()
    client.reconnect_delay_set(min_delay=1, max_delay=10)
    return client


def connect(
    url: str | MqttUrl,
    *,
    client_id: str = "",
    protocol: MqttProtocol = MqttProtocol.V5,
    fallback_to_v311: bool = True,
    subscriptions: Sequence[tuple[str, int]] = (),
    on_message: MessageHandler | None = None,
    userdata: Any = None,
    keepalive_s: int = DEFAULT_KEEPALIVE_S,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    manual_ack: bool = False,
    persistent_session: bool = False,
) -> mqtt.Client:
    """Connect, start the network thread, subscribe, and wait (at most `timeout_s`) until
    the broker has accepted all of it. Raises MqttConnectError; never leaves a thread behind
    on failure. With `persistent_session` an MQTT 5 session is kept for a day after a
    disconnection (clean start off, session expiry 86400 s)."""
    endpoint = parse_mqtt_url(url) if isinstance(url, str) else url
    options = {"manual_ack": manual_ack, "persistent_session": persistent_session}
    try:
        return _connect_once(
            endpoint,
            client_id,
            protocol,
            subscriptions,
            on_message,
            userdata,
            keepalive_s,
            timeout_s,
            **options,
        )
    except MqttConnectError as exc:
        if not (
            protocol is MqttProtocol.V5
            and fallback_to_v311
            and exc.reason_code == UNSUPPORTED_PROTOCOL_VERSION
        ):
            raise
    return _connect_once(
        endpoint,
        client_id,
        MqttProtocol.V311,
        subscriptions,
        on_message,
        userdata,
        keepalive_s,
        timeout_s,
        **options,
    )


def _connect_once(
    endpoint: MqttUrl,
    client_id: str,
    protocol: MqttProtocol,
    subscriptions: Sequence[tuple[str, int]],
    on_message: MessageHandler | None,
    userdata: Any,
    keepalive_s: int,
    timeout_s: float,
    *,
    manual_ack: bool = False,
    persistent_session: bool = False,
) -> mqtt.Client:
    client = create_client(
        endpoint,
        client_id=client_id,
        protocol=protocol,
        userdata=userdata,
        manual_ack=manual_ack,
        persistent_session=persistent_session,
    )
    handshake = _Handshake(subscriptions)
    client.on_connect = handshake.on_connect
    client.on_subscribe = handshake.on_subscribe
    if on_message is not None:
        client.on_message = on_message
    client.connect_timeout = timeout_s
    session: dict[str, Any] = {}
    if protocol is MqttProtocol.V5 and persistent_session:
        connect_properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        connect_properties.SessionExpiryInterval = 86400
        session = {"clean_start": False, "properties": connect_properties}
    try:
        client.connect(endpoint.host, endpoint.port, keepalive=keepalive_s, **session)
    except OSError as exc:
        raise MqttConnectError(f"cannot reach the MQTT broker at {endpoint}: {exc}") from exc
    # Run the handshake on this thread: a refused connection then leaves no network thread
    # behind (paho's would sit in its reconnection delay).
    deadline = time.monotonic() + timeout_s
    while not handshake.done.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            _abandon(client)
            raise MqttConnectError(f"no answer from the MQTT broker at {endpoint} in {timeout_s} s")
        result = client.loop(timeout=min(0.1, remaining))
        if result != MQTTErrorCode.MQTT_ERR_SUCCESS and not handshake.done.is_set():
            _abandon(client)
            raise MqttConnectError(f"the MQTT broker at {endpoint} closed the connection: {result}")
    if handshake.failure is not None:
        _abandon(client)
        raise handshake.failure
    client.loop_start()
    return client


def _abandon(client: mqtt.Client) -> None:
    """Close a client whose handshake failed (no network thread was started)."""
    client.disconnect()
    sock = client.socket()
    if sock is not None:
        sock.close()


def disconnect(client: mqtt.Client) -> None:
    """Send DISCONNECT and stop the network thread (joined unless called from a callback)."""
    client.disconnect()
    client.loop_stop()
