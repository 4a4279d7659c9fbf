"""`submeter ingest` (MQTT readings into the database) and `submeter poll` (Modbus / DL/T 645)."""

from __future__ import annotations

import argparse
import os
import socket
import threading
import time

from submeter.metering.mqtt_decode import DEFAULT_DECODE_PROCESSES


def ingest(args: argparse.Namespace) -> int:
    from submeter.cli.server import setup_django

    setup_django()
    from submeter.metering.mqtt_ingest import IngestWorker
    from submeter.metering.services import refresh_online_state

    url = args.mqtt_url or os.environ.get("MQTT_URL", "")
    broker = None
    if not url:
        from submeter.mqtt.broker import EmbeddedBroker

        broker = EmbeddedBroker()
        url = broker.start()
        print(f"No MQTT_URL: embedded broker at {url}", flush=True)
    worker = IngestWorker(
        url,
        client_id=args.client_id,
        share_group=args.share_group,
        batch_size=args.batch_size,
        mqtt5=broker is None,
        decode_processes=args.decode_processes,
    )
    worker.start()
    print(f"Ingesting from {url} as {args.client_id} (Ctrl-C stops).", flush=True)

    stop = threading.Event()

    def watch_online_state() -> None:
        while not stop.wait(60):
            refresh_online_state()

    threading.Thread(target=watch_online_state, daemon=True).start()

    def report(stats) -> None:
        print(
            f"messages {stats.messages}  stored {stats.result.stored}  duplicates {stats.result.duplicates}  "
            f"quarantined {stats.result.quarantined + stats.rejected}",
            flush=True,
        )

    try:
        worker.run(on_report=report, report_every_s=args.progress_seconds)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        worker.stop()
        if broker is not None:
            broker.stop()
    report(worker.stats)
    return 0


def poll(args: argparse.Namespace) -> int:
    from submeter.cli.server import setup_django

    setup_django()
    from submeter.metering.polling import PollKind, poll_cycle

    schedule = {
        PollKind.SAFETY: args.safety_minutes * 60,
        PollKind.BILLING: args.billing_minutes * 60,
    }
    due = dict.fromkeys(schedule, 0.0)
    try:
        while True:
            now = time.monotonic()
            kind = PollKind.BILLING if due[PollKind.BILLING] <= now else PollKind.SAFETY
            if due[kind] <= now:
                result, report = poll_cycle(kind, concurrency=args.concurrency)
                print(
                    f"{kind} poll: {len(report.readings)} readings, stored {result.stored}, "
                    f"quarantined {result.quarantined}, failures {len(report.failures)}",
                    flush=True,
                )
                due[kind] = now + schedule[kind]
                if kind is PollKind.BILLING:
                    due[PollKind.SAFETY] = now + schedule[PollKind.SAFETY]
            if args.once:
                return 0
            time.sleep(max(0.5, min(due.values()) - time.monotonic()))
    except KeyboardInterrupt:
        return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ingest",
        help="store gateways' MQTT readings (one worker; run several to share the stream)",
        description="Subscribe to submeter/+/+/up/readings (MQTT 5 shared subscription) and store "
        "readings; messages are acknowledged only after they are stored.",
    )
    parser.add_argument(
        "--mqtt-url", default="", help="broker (default $MQTT_URL, else an embedded one)"
    )
    parser.add_argument(
        "--client-id",
        default=f"submeter-ingest-{socket.gethostname()}",
        help="fixed per worker: its persistent session keeps unacknowledged messages",
    )
    parser.add_argument("--share-group", default="ingest", help="MQTT 5 shared-subscription group")
    parser.add_argument(
        "--batch-size", type=int, default=5000, help="readings per database transaction"
    )
    parser.add_argument(
        "--decode-processes",
        type=int,
        choices=(0, 1),
        default=DEFAULT_DECODE_PROCESSES,
        help="1: decode the next batch's JSON in another process while one is stored; "
        f"0: all in this process (default {DEFAULT_DECODE_PROCESSES}: 1 with more than one core)",
    )
    parser.add_argument(
        "--progress-seconds", type=float, default=10.0, help="progress line every S seconds"
    )
    parser.set_defaults(handler=ingest)

    parser = subparsers.add_parser(
        "poll",
        help="poll Modbus TCP and DL/T 645 gateways on a schedule",
        description="Read safety data (V, A, kW, PF) every --safety-minutes and billing registers "
        "every --billing-minutes from every gateway whose protocol is polled.",
    )
    parser.add_argument("--safety-minutes", type=float, default=5, help="default 5")
    parser.add_argument("--billing-minutes", type=float, default=30, help="default 30")
    parser.add_argument(
        "--concurrency", type=int, default=32, help="gateways polled at once (default 32)"
    )
    parser.add_argument("--once", action="store_true", help="one billing poll, then exit")
    parser.set_defaults(handler=poll)
