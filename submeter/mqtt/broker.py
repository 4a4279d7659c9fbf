"""An in-process MQTT broker (amqtt) on 127.0.0.1 and a free port.

This is the embedded default (`MQTT_URL` unset) and what tests use when no real broker is
given. amqtt speaks MQTT 3.1.1 only: no MQTT 5 shared subscriptions, so with it one ingest
worker takes the whole stream (`submeter.mqtt.client.connect` falls back to 3.1.1 by itself).
It handles about 1 600 messages/s, plenty for the demo, not for benchmarks.

From sync code::

    with EmbeddedBroker() as broker:      # its own event loop in a background thread
        client = connect(broker.url)      # mqtt://127.0.0.1:40123

From async code::

    async with EmbeddedBroker() as broker:    # runs on the current event loop
        ...

The listening socket is ours (bound to port 0, so the port is free by construction) and each
connection is handed to amqtt as an "external" listener connection; amqtt's own listeners, which
default to 0.0.0.0:1883, are never opened.
"""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType

from amqtt.adapters import (  # type: ignore[import-untyped]
    StreamReaderAdapter,
    StreamWriterAdapter,
)
from amqtt.broker import Broker  # type: ignore[import-untyped]

from submeter.mqtt.event_loop_thread import DEFAULT_TIMEOUT_S, EventLoopThread

LISTENER_NAME = "default"
LOCALHOST = "127.0.0.1"


def _broker_config() -> dict[str, object]:
    return {
        "listeners": {LISTENER_NAME: {"type": "external", "bind": f"{LOCALHOST}:0"}},
        "plugins": {
            "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
        },
    }


class LatePubackFilter(logging.Filter):
    """Drops amqtt's error for a subscriber that acknowledged a QoS 1 message later than amqtt's
    fixed 5 s: the message was delivered, amqtt only stopped waiting. The ingest worker
    acknowledges after its database commit, which takes longer than that while a backlog is
    caught up."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not (isinstance(error, TimeoutError) and "PUBACK" in str(error))


class EmbeddedBroker:
    """An amqtt broker bound to `host` (default 127.0.0.1) and `port` (default 0: a free one).

    Start it with `start()` (sync: runs on its own `EventLoopThread`) or `await start_async()`
    (on the running loop); `url` is then `mqtt://127.0.0.1:PORT`. `quiet` lowers amqtt's own
    log messages to errors only (it logs every connection at INFO and a refused MQTT 5
    connection attempt as a warning).
    """

    def __init__(self, host: str = LOCALHOST, port: int = 0, *, quiet: bool = True) -> None:
        self._host = host
        self._requested_port = port
        self._port: int | None = None
        self._broker: Broker | None = None
        self._server: asyncio.Server | None = None
        self._loop_thread: EventLoopThread | None = None
        if quiet:
            logging.getLogger("amqtt").setLevel(logging.ERROR)
            broker_log = logging.getLogger("amqtt.broker")
            if not any(isinstance(f, LatePubackFilter) for f in broker_log.filters):
                broker_log.addFilter(LatePubackFilter())

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the broker is not started")
        return self._port

    @property
    def url(self) -> str:
        return f"mqtt://{self._host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    async def start_async(self) -> str:
        """Start on the running event loop; return the broker's URL."""
        if self._server is not None:
            raise RuntimeError("the broker is already started")
        broker = Broker(_broker_config())
        await broker.start()

        async def hand_over(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await broker.external_connected(
                StreamReaderAdapter(reader), StreamWriterAdapter(writer), LISTENER_NAME
            )

        try:
            server = await asyncio.start_server(hand_over, self._host, self._requested_port)
        except OSError:
            await broker.shutdown()
            raise
        self._broker = broker
        self._server = server
        self._port = int(server.sockets[0].getsockname()[1])
        return self.url

    async def stop_async(self) -> None:
        """Close the listening socket and every client session."""
        server, broker = self._server, self._broker
        self._server = None
        self._broker = None
        if server is not None:
            server.close()
        if broker is not None:
            await broker.shutdown()
        if server is not None:
            await server.wait_closed()

    def start(self, timeout_s: float = DEFAULT_TIMEOUT_S) -> str:
        """Start on a background event loop thread; return the broker's URL."""
        if self._loop_thread is not None:
            raise RuntimeError("the broker is already started")
        loop_thread = EventLoopThread(name="submeter-mqtt-broker").start()
        try:
            url = loop_thread.run(self.start_async(), timeout_s)
        except BaseException:
            loop_thread.stop()
            raise
        self._loop_thread = loop_thread
        return url

    def stop(self, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        loop_thread = self._loop_thread
        if loop_thread is None:
            return
        self._loop_thread = None
        try:
            loop_thread.run(self.stop_async(), timeout_s)
        finally:
            loop_thread.stop(timeout_s)

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> EmbeddedBroker:
        await self.start_async()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop_async()
