"""The MQTT ingest worker: gateways' `up/readings` messages into `ingest`, nothing lost or doubled.

- One persistent MQTT session per worker (fixed client id, no clean start) and QoS 1 with
  manual acknowledgement: a message is acknowledged to the broker only after the database
  transaction that stored its readings has committed. A worker killed mid-batch gets the
  unacknowledged messages again when it reconnects; storage is idempotent by (meter, time), so
  they are stored once.
- With MQTT 5 the subscription is shared (`$share/<group>/…`), so several workers split the
  stream; the embedded broker speaks MQTT 3.1.1, and one worker takes it all.
- Messages are batched (up to `batch_size` readings, or what arrived within `flush_interval_s`)
  so one transaction stores many gateways' messages.
- A payload that does not parse is quarantined with its reason and acknowledged; the worker
  never stops on bad input.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field

from django.db import DatabaseError, close_old_connections

from submeter.metering.ingest import IngestResult, ReadingIn, ingest
from submeter.metering.models import QuarantinedReading, ReadingSource
from submeter.protocols.errors import PayloadError
from submeter.protocols.mqtt_payloads import parse_readings
from submeter.protocols.mqtt_topics import TopicKind, parse_topic, subscription_filter
from submeter.tenancy.models import Organisation

logger = logging.getLogger(__name__)


@dataclass
class WorkerStats:
    messages: int = 0
    rejected: int = 0
    result: IngestResult = field(default_factory=IngestResult)


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    mid: int
    qos: int


class IngestWorker:
    def __init__(
        self,
        url: str,
        *,
        client_id: str = "submeter-ingest-1",
        share_group: str = "ingest",
        batch_size: int = 5000,
        flush_interval_s: float = 0.2,
        mqtt5: bool = True,
    ) -> None:
        """`mqtt5=False` for brokers that speak only MQTT 3.1.1 (the embedded one)."""
        self.url = url
        self.mqtt5 = mqtt5
        self.client_id = client_id
        self.share_group = share_group
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.inbox: queue.Queue[Received] = queue.Queue()
        self.stats = WorkerStats()
        self.stopping = threading.Event()
        self.client = None
        self.subscription_organisation = "+"
        self._organisations: dict[str, int | None] = {}

    def _on_message(self, client, userdata, message) -> None:
        self.inbox.put(Received(message.topic, message.payload, message.mid, message.qos))

    def start(self) -> None:
        from submeter.mqtt.client import MqttProtocol, connect

        filters = [
            subscription_filter(
                TopicKind.READINGS, self.subscription_organisation, share_group=self.share_group
            )
        ]
        self.client = connect(
            self.url,
            client_id=self.client_id,
            subscriptions=[(f, 1) for f in filters],
            on_message=self._on_message,
            manual_ack=True,
            persistent_session=True,
            protocol=MqttProtocol.V5 if self.mqtt5 else MqttProtocol.V311,
        )
        if self.client.protocol != 5 and self.share_group:
            # MQTT 3.1.1 has no shared subscriptions: subscribe to the plain filter instead.
            self.client.unsubscribe(filters[0])
            self.client.subscribe(
                subscription_filter(TopicKind.READINGS, self.subscription_organisation), qos=1
            )

    def stop(self) -> None:
        self.stopping.set()
        if self.client is not None:
            from submeter.mqtt.client import disconnect

            disconnect(self.client)
            self.client = None

    def run(self, *, until=None, report_every_s: float = 5.0, on_report=None) -> WorkerStats:
        """Process batches until `stop()` (or `until()` returns True)."""
        last_report = time.monotonic()
        while not self.stopping.is_set() and not (until and until()):
            batch = self._collect()
            if batch:
                self._process_until_stored(batch)
            if on_report and time.monotonic() - last_report >= report_every_s:
                on_report(self.stats)
                last_report = time.monotonic()
        return self.stats

    def _process_until_stored(self, batch: list[Received]) -> None:
        """A database error (locked, connection lost) is retried with the same batch: storage
        is idempotent, and the messages stay unacknowledged until it succeeds."""
        delay = 0.5
        while not self.stopping.is_set():
            close_old_connections()  # a long-running worker: drop a broken connection
            try:
                self.process(batch)
                return
            except DatabaseError:
                logger.exception("ingest batch failed; retrying in %.1f s", delay)
                self.stopping.wait(delay)
                delay = min(delay * 2, 10.0)

    def _collect(self) -> list[Received]:
        try:
            first = self.inbox.get(timeout=self.flush_interval_s)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.flush_interval_s
        readings = 0
        while readings < self.batch_size and time.monotonic() < deadline:
            try:
                batch.append(self.inbox.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
            readings += 100
        return batch

    def _organisation_id(self, code: str) -> int | None:
        if code not in self._organisations:
            self._organisations[code] = (
                Organisation.objects.filter(code=code).values_list("pk", flat=True).first()
            )
        return self._organisations[code]

    def process(self, batch: list[Received]) -> IngestResult:
        """Parse, store in one transaction, then acknowledge every message of the batch."""
        readings: list[ReadingIn] = []
        rejected: list[QuarantinedReading] = []
        for received in batch:
            try:
                topic = parse_topic(received.topic)
                message = parse_readings(received.payload)
                if message.gateway_id != topic.gateway_id:
                    raise PayloadError("gateway_id does not match the topic", "gateway_id")
            except (PayloadError, ValueError) as exc:
                rejected.append(
                    QuarantinedReading(
                        source=ReadingSource.MQTT,
                        reason="bad_payload",
                        detail=str(exc)[:300],
                        raw=received.payload[:10000].decode("utf-8", "replace"),
                    )
                )
                continue
            organisation_id = self._organisation_id(topic.organisation)
            readings.extend(
                ReadingIn(
                    organisation_id=organisation_id,
                    meter_address=item.meter_address,
                    timestamp=item.timestamp,
                    registers=item.registers,
                    source=ReadingSource.MQTT,
                    gateway_serial=topic.gateway_id,
                )
                for item in message.readings
            )
        result = ingest(readings)
        if rejected:
            QuarantinedReading.objects.bulk_create(rejected)
        for received in batch:
            if received.qos > 0 and self.client is not None:
                self.client.ack(received.mid, received.qos)
        self.stats.messages += len(batch)
        self.stats.rejected += len(rejected)
        self.stats.result.add(result)
        return result
