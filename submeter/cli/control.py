"""`submeter worker`: the periodic work of a production deployment (command retries, expiry,
read-backs, batches, timed controls, the prepaid policy's due cut-offs and forecasts,
notification retries, online state, billing catch-up), with the command transport, the ack
listener and the deduction thread."""

from __future__ import annotations

import argparse
import logging
import os


def worker(args: argparse.Namespace) -> int:
    from submeter.cli.server import setup_django

    setup_django()
    from submeter.control import policy, transport
    from submeter.scheduler import Scheduler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    url = args.mqtt_url or os.environ.get("MQTT_URL", "")
    if url:
        transport.start(url)
        print(f"Commands and acks through {url}.", flush=True)
    else:
        print("No MQTT_URL: only Modbus and DL/T 645 gateways can be commanded.", flush=True)

    def report(job: str, result: object) -> None:
        if isinstance(result, dict):
            result = "  ".join(f"{key} {count}" for key, count in sorted(result.items()))
        print(f"{job}: {result}", flush=True)

    # After a restart, decide again from the ledger what a crash may have left undone.
    print(f"Prepaid policy caught up for {policy.evaluate_all()} customers.", flush=True)
    scheduler = Scheduler(on_result=report)
    for job in scheduler.jobs:
        if job.name == "commands":
            job.every_s = args.interval
    print("Running the periodic work (Ctrl-C stops).", flush=True)
    try:
        scheduler.run(tick_s=min(1.0, args.interval))
    except KeyboardInterrupt:
        pass
    finally:
        transport.stop()
    print("Worker stopped.", flush=True)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "worker",
        help="run the periodic work: command retries, due cut-offs, notifications, billing catch-up",
    )
    parser.add_argument("--mqtt-url", default="", help="broker for commands (default MQTT_URL)")
    parser.add_argument(
        "--interval", type=float, default=2.0, help="seconds between command runs (default 2)"
    )
    parser.set_defaults(handler=worker)
