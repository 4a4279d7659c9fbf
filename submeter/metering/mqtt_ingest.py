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
- The meters' last reading time and online state (and the gateways' last contact) move forward
  once a second (`state_interval_s`) for all the batches stored meanwhile, not once per batch:
  validation reads each meter's latest reading from the readings themselves, so nothing waits
  on it, and a crash in between only delays it until the next reading.
- With `decode_processes=1` (the default of `submeter ingest` on a machine with more than one
  core) the JSON of the next batch is decoded in a separate process while this batch is being
  stored: Python runs one thread at a time, and decoding is a large part of the work. If
  that process dies, the worker decodes in its own process and starts another.
- A payload that does not parse is quarantined with its reason and acknowledged; the worker
  never stops on bad input.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from django.db import DatabaseError, connection, transaction

from submeter.metering.ingest import IngestResult, ReadingGroup, move_meters_forward, store
from submeter.metering.models import QuarantinedReading, ReadingSource
from submeter.metering.mqtt_decode import DecodedMessage, RejectedMessage, decode_readings
from submeter.protocols.mqtt_topics import TopicKind, subscription_filter
from submeter.tenancy.models import Organisation

logger = logging.getLogger(__name__)


@dataclass
class WorkerStats:
    messages: int = 0
    rejected: int = 0
    result: IngestResult = field(default_factory=IngestResult)  # the counts only

    def count(self, result: IngestResult) -> None:
        """Add a batch's counts (not its meters: a running worker would carry every meter)."""
        self.result.stored += result.stored
        self.result.duplicates += result.duplicates
        self.result.quarantined += result.quarantined


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
        decode_processes: int = 0,
        state_interval_s: float = 1.0,
    ) -> None:
        """`mqtt5=False` for brokers that speak only MQTT 3.1.1 (the embedded one);
        `decode_processes=1` decodes the next batch in another process while one is stored."""
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
        self.decode_processes = decode_processes
        self.state_interval_s = state_interval_s
        self._unmoved = IngestResult()  # stored, meters not yet moved forward
        self._moved_at = time.monotonic()
        self._decoder: ProcessPoolExecutor | None = None

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
        """Process batches until `stop()` (or `until()` returns True). With a decoding process,
        batch n+1 is decoded there while batch n is stored here."""
        last_report = time.monotonic()
        waiting: tuple[list[Received], Future] | None = None
        try:
            while not self.stopping.is_set() and not (until and until()):
                batch = self._collect()
                if self.decode_processes and batch:
                    decoding = (batch, self._decode_elsewhere(batch))
                    if waiting is not None:
                        self._store_until_done(waiting[0], self._decoded(*waiting))
                    waiting = decoding
                else:
                    if waiting is not None:
                        self._store_until_done(waiting[0], self._decoded(*waiting))
                        waiting = None
                    if batch:
                        self._store_until_done(batch, self._decode(batch))
                if time.monotonic() - self._moved_at >= self.state_interval_s:
                    self.move_meters()
                if on_report and time.monotonic() - last_report >= report_every_s:
                    on_report(self.stats)
                    last_report = time.monotonic()
            if waiting is not None and not self.stopping.is_set():
                self._store_until_done(waiting[0], self._decoded(*waiting))
            self.move_meters()
        finally:
            self._forget_decoder()
        return self.stats

    def _decode_elsewhere(self, batch: list[Received]) -> Future:
        messages = [(received.topic, received.payload) for received in batch]
        try:
            return self._decoding_process().submit(decode_readings, messages)
        except BrokenProcessPool:  # it died while idle: start another
            self._forget_decoder()
            return self._decoding_process().submit(decode_readings, messages)

    def _decoding_process(self) -> ProcessPoolExecutor:
        if self._decoder is None:
            self._decoder = ProcessPoolExecutor(
                max_workers=self.decode_processes, mp_context=multiprocessing.get_context("spawn")
            )
        return self._decoder

    def _forget_decoder(self) -> None:
        if self._decoder is not None:
            self._decoder.shutdown(wait=False, cancel_futures=True)
            self._decoder = None

    def _decoded(
        self, batch: list[Received], decoding: Future
    ) -> list[DecodedMessage | RejectedMessage]:
        try:
            return decoding.result()
        except BrokenProcessPool:
            logger.exception("the decoding process died; decoding here, starting another")
            self._forget_decoder()
            return self._decode(batch)

    @staticmethod
    def _decode(batch: list[Received]) -> list[DecodedMessage | RejectedMessage]:
        return decode_readings([(received.topic, received.payload) for received in batch])

    def _store_until_done(
        self, batch: list[Received], decoded: list[DecodedMessage | RejectedMessage]
    ) -> None:
        """A database error (locked, connection lost) is retried with the same batch, on a new
        connection: storage is idempotent, and the messages stay unacknowledged until it
        succeeds. A working connection is kept from batch to batch (a new one would start with
        a cold SQLite page cache)."""
        delay = 0.5
        while not self.stopping.is_set():
            try:
                self._store(batch, decoded)
                return
            except DatabaseError:
                logger.exception("ingest batch failed; retrying in %.1f s", delay)
                connection.close()
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
        """Decode, store in one transaction, then acknowledge every message of the batch (and
        move its meters forward at once)."""
        result = self._store(batch, self._decode(batch))
        self.move_meters()
        return result

    def move_meters(self) -> None:
        """Move the meters (and gateways) of the batches stored since the last time forward."""
        self._moved_at = time.monotonic()
        if not self._unmoved.latest_times and not self._unmoved.gateways_seen:
            return
        try:
            with transaction.atomic():
                move_meters_forward(self._unmoved)
        except DatabaseError:
            logger.exception("moving meters forward failed; trying again with the next batch")
            return
        self._unmoved = IngestResult()

    def _store(
        self, batch: list[Received], decoded: list[DecodedMessage | RejectedMessage]
    ) -> IngestResult:
        groups: list[ReadingGroup] = []
        rejected: list[QuarantinedReading] = []
        for received, message in zip(batch, decoded, strict=True):
            if type(message) is RejectedMessage:
                rejected.append(
                    QuarantinedReading(
                        source=ReadingSource.MQTT,
                        reason="bad_payload",
                        detail=message.detail,
                        raw=received.payload[:10000].decode("utf-8", "replace"),
                    )
                )
                continue
            groups.append(
                ReadingGroup(
                    self._organisation_id(message.organisation_code),
                    ReadingSource.MQTT,
                    message.gateway_id,
                    message.readings,
                )
            )
        result = store(groups, move_meters=False)
        self._unmoved.add(result)
        if rejected:
            QuarantinedReading.objects.bulk_create(rejected)
        for received in batch:
            if received.qos > 0 and self.client is not None:
                self.client.ack(received.mid, received.qos)
        self.stats.messages += len(batch)
        self.stats.rejected += len(rejected)
        self.stats.count(result)
        return result
