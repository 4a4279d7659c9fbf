"""`submeter worker`: the control scheduler (retries, expiry, read-backs, batches, timed
controls, the prepaid policy's due cut-offs), with the command transport and ack listener."""

from __future__ import annotations

import argparse
import logging
import os
import threading


def worker(args: argparse.Namespace) -> int:
    from submeter.cli.server import setup_django

    setup_django()
    from submeter.control import policy, tasks, transport

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    url = args.mqtt_url or os.environ.get("MQTT_URL", "")
    if url:
        transport.start(url)
        print(f"Commands and acks through {url}.", flush=True)
    else:
        print("No MQTT_URL: only Modbus and DL/T 645 gateways can be commanded.", flush=True)
    stop = threading.Event()
    print(f"Running due control work every {args.interval} s (Ctrl-C stops).", flush=True)
    try:
        while not stop.is_set():
            try:
                done = tasks.run_due()
                evaluated = policy.run_due()
            except Exception:
                logging.getLogger("submeter.worker").exception("control run failed")
            else:
                if done or evaluated:
                    summary = "  ".join(f"{key} {count}" for key, count in sorted(done.items()))
                    print(f"{summary}  policy evaluations {evaluated}".strip(), flush=True)
            stop.wait(args.interval)
    except KeyboardInterrupt:
        pass
    finally:
        transport.stop()
    print("Worker stopped.", flush=True)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "worker",
        help="run control work every few seconds: retries, expiry, read-backs, batches, schedules",
    )
    parser.add_argument("--mqtt-url", default="", help="broker for commands (default MQTT_URL)")
    parser.add_argument(
        "--interval", type=float, default=2.0, help="seconds between runs (default 2)"
    )
    parser.set_defaults(handler=worker)
