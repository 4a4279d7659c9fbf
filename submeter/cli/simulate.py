"""`submeter simulate`: virtual meters behind gateways that speak MQTT, Modbus TCP or DL/T 645.

Imports nothing from Django: it runs against any platform (or none) through real sockets.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

from submeter.mqtt.broker import EmbeddedBroker
from submeter.mqtt.event_loop_thread import EventLoopThread
from submeter.protocols.mqtt_topics import IDENTIFIER_PATTERN
from submeter.simulator import (
    Cjt188Gateway,
    Dlt645Gateway,
    Gateway,
    MeterKind,
    MetersFileError,
    MeterSpec,
    ModbusGateway,
    MqttGateway,
    SimClock,
    Simulation,
    SimulationRunner,
    assign_gateways,
    build_meters,
    generate_meter_specs,
    load_meters_file,
)
from submeter.simulator.cjt188_gateway import cjt188_address

VIAS = ("mqtt", "modbus", "dlt645")
DEFAULT_METERS = 10
DEFAULT_ORG = "demo-park"
DEFAULT_WATER_SHARE = 0.2
USAGE_ERROR = 2

EPILOG = """\
examples:
  submeter simulate --meters 200 --gateways 2 --speed 720
      200 meters over MQTT (MQTT_URL, or an embedded broker), a month per hour
  submeter simulate --via dlt645 --meters 20 --speed 60
      DL/T 645 over TCP (water meters: CJ/T 188 on a second port per gateway)
  submeter simulate --via modbus --meters-file park.json --duration 600
  submeter simulate --meters 50 --speed 720 --outage-after 30 --outage-for 30
      the first gateway goes offline after 30 s for 30 s (6 simulated hours), then replays

See docs/simulator.md for the meters file and what each protocol answers.
"""


class UsageError(Exception):
    pass


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="run virtual meters behind MQTT, Modbus TCP or DL/T 645 gateways",
        description="Run virtual meters (electricity and water, with consumption profiles, "
        "relays and valves) behind gateways that speak real protocols over real sockets. "
        "Ctrl-C stops it.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    meters = parser.add_argument_group("meters")
    meters.add_argument(
        "--meters", type=int, metavar="N", help=f"how many meters (default {DEFAULT_METERS})"
    )
    meters.add_argument(
        "--meters-file", metavar="FILE", help="JSON list of meters to simulate instead"
    )
    meters.add_argument(
        "--water-share",
        type=float,
        metavar="F",
        help=f"share of generated meters that are water meters "
        f"(default {DEFAULT_WATER_SHARE}, 0 with --via modbus)",
    )
    meters.add_argument(
        "--gateways",
        type=int,
        default=1,
        metavar="G",
        help="gateways to spread them over (default 1)",
    )
    meters.add_argument("--seed", type=int, default=0, help="seed of the noise (default 0)")
    transport = parser.add_argument_group("transport")
    transport.add_argument("--via", choices=VIAS, default="mqtt", help="protocol (default mqtt)")
    transport.add_argument(
        "--mqtt-url", metavar="URL", help="broker (default $MQTT_URL, else an embedded one)"
    )
    transport.add_argument(
        "--org",
        default=DEFAULT_ORG,
        metavar="CODE",
        help=f"organisation code in MQTT topics (default {DEFAULT_ORG})",
    )
    transport.add_argument(
        "--host", default="127.0.0.1", help="address of TCP gateways (default 127.0.0.1)"
    )
    transport.add_argument(
        "--port",
        type=int,
        default=0,
        help="port of the first TCP gateway, the next ones follow (default 0: free ports)",
    )
    timing = parser.add_argument_group("time")
    timing.add_argument(
        "--speed",
        type=float,
        default=1.0,
        metavar="X",
        help="time acceleration (720: a month per hour; default 1)",
    )
    timing.add_argument(
        "--start",
        metavar="ISO",
        help="simulated start, e.g. 2024-05-20T00:00:00+08:00 (default now)",
    )
    timing.add_argument(
        "--interval-minutes",
        type=int,
        default=15,
        metavar="M",
        help="reporting interval in simulated minutes (default 15)",
    )
    timing.add_argument(
        "--duration", type=float, metavar="SECONDS", help="stop after this many wall seconds"
    )
    timing.add_argument(
        "--outage-after",
        type=float,
        metavar="S",
        help="take a gateway offline after S wall seconds …",
    )
    timing.add_argument(
        "--outage-for", type=float, metavar="S", help="… for S wall seconds (× speed simulated)"
    )
    timing.add_argument("--outage-gateway", metavar="ID", help="which gateway (default the first)")
    timing.add_argument(
        "--progress-seconds",
        type=float,
        default=5.0,
        metavar="S",
        help="print progress every S seconds (default 5)",
    )
    parser.add_argument(
        "--park",
        metavar="CODE",
        help="simulate the meters of this organisation in the database (e.g. demo-park), "
        "resuming from their stored registers",
    )
    parser.set_defaults(handler=simulate)


def _park_specs(code: str) -> list[MeterSpec]:
    """The meters of an organisation in the database (e.g. the demo park), as they stand."""
    import random

    from submeter.cli.server import setup_django

    setup_django()
    from submeter.demo.live import meter_spec
    from submeter.metering.models import Meter

    meters = list(
        Meter.objects.filter(organisation__code=code, gateway__isnull=False)
        .select_related("gateway")
        .order_by("address")
    )
    if not meters:
        raise UsageError(f"organisation {code!r} has no meters behind gateways in the database")
    rng = random.Random(7)
    return [meter_spec(meter, rng) for meter in meters]


def _meter_specs(args: argparse.Namespace) -> list[MeterSpec]:
    if args.park:
        if args.meters is not None or args.meters_file:
            raise UsageError("give --park, --meters or --meters-file, not several")
        if args.org is None or args.org == "demo-park":
            args.org = args.park
        return _park_specs(args.park)
    if args.meters_file:
        if args.meters is not None:
            raise UsageError("give --meters or --meters-file, not both")
        try:
            return load_meters_file(args.meters_file)
        except MetersFileError as exc:
            raise UsageError(str(exc)) from None
    count = DEFAULT_METERS if args.meters is None else args.meters
    if count < 1:
        raise UsageError("--meters must be at least 1")
    water_share = args.water_share
    if water_share is None:
        water_share = 0.0 if args.via == "modbus" else DEFAULT_WATER_SHARE
    if not 0 <= water_share <= 1:
        raise UsageError("--water-share must be between 0 and 1")
    return generate_meter_specs(
        count, gateways=args.gateways, water_share=water_share, seed=args.seed
    )


def _check(args: argparse.Namespace) -> None:
    if args.speed <= 0:
        raise UsageError("--speed must be positive")
    if args.gateways < 1:
        raise UsageError("--gateways must be at least 1")
    if args.interval_minutes < 1:
        raise UsageError("--interval-minutes must be at least 1")
    if (args.outage_after is None) != (args.outage_for is None):
        raise UsageError("give --outage-after and --outage-for together")
    if args.outage_for is not None and (args.outage_for <= 0 or args.outage_after < 0):
        raise UsageError("--outage-after must be ≥ 0 and --outage-for > 0")
    if not IDENTIFIER_PATTERN.fullmatch(args.org):
        raise UsageError(f"--org {args.org!r} is not a valid topic segment")


def _start_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        start = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--start {text!r} is not an ISO 8601 time") from None
    if start.tzinfo is None:
        raise UsageError("--start needs a time zone, e.g. +08:00")
    return start


def _tcp_gateways(
    args: argparse.Namespace,
    simulation: Simulation,
    groups: dict[str, list[str]],
    loop_thread: EventLoopThread,
) -> list[Gateway]:
    gateways: list[Gateway] = []

    def next_port() -> int:
        return args.port + len(gateways) if args.port else 0

    for gateway_id, addresses in groups.items():
        electricity = [a for a in addresses if simulation.meter(a).kind is MeterKind.ELECTRICITY]
        water = [a for a in addresses if simulation.meter(a).kind is MeterKind.WATER]
        if args.via == "modbus":
            if water:
                raise UsageError(
                    f"gateway {gateway_id}: Modbus has no map for water meters "
                    "(use --water-share 0 or --via mqtt/dlt645)"
                )
            gateways.append(
                ModbusGateway(
                    simulation,
                    gateway_id,
                    electricity,
                    loop_thread=loop_thread,
                    host=args.host,
                    port=next_port(),
                )
            )
            continue
        if electricity:
            gateways.append(
                Dlt645Gateway(
                    simulation,
                    gateway_id,
                    electricity,
                    loop_thread=loop_thread,
                    host=args.host,
                    port=next_port(),
                )
            )
        if water:
            gateways.append(
                Cjt188Gateway(
                    simulation,
                    f"{gateway_id}-cjt188" if electricity else gateway_id,
                    water,
                    loop_thread=loop_thread,
                    host=args.host,
                    port=next_port(),
                )
            )
    return gateways


def _describe(gateway: Gateway) -> str:
    count = f"{len(gateway.meters)} meter{'' if len(gateway.meters) == 1 else 's'}"
    if isinstance(gateway, MqttGateway):
        return f"  {gateway.gateway_id}: {count}, topics submeter/{gateway.organisation}/{gateway.gateway_id}/…"
    if isinstance(gateway, ModbusGateway):
        return (
            f"  {gateway.gateway_id}: {count}, Modbus TCP {gateway.endpoint} "
            f"(device ids 1–{len(gateway.devices)})"
        )
    if isinstance(gateway, Cjt188Gateway):
        first = cjt188_address(gateway.meters[0].address)
        return (
            f"  {gateway.gateway_id}: {count} (water), CJ/T 188 {gateway.endpoint} (first {first})"
        )
    first = gateway.meters[0].address
    return f"  {gateway.gateway_id}: {count}, DL/T 645 {gateway.endpoint} (first {first})"


def _progress(simulation: Simulation, gateways: Sequence[Gateway], started: float) -> str:
    published = acknowledged = buffered = answered = 0
    for gateway in gateways:
        if isinstance(gateway, MqttGateway):
            published += gateway.counters.readings_published
            acknowledged += gateway.counters.commands_acknowledged
            buffered += gateway.buffered_messages
        elif isinstance(gateway, ModbusGateway | Dlt645Gateway | Cjt188Gateway):
            answered += gateway.requests_answered
    offline = [gateway.gateway_id for gateway in gateways if not gateway.online]
    parts = [f"simulated {simulation.time:%Y-%m-%d %H:%M}"]
    if any(isinstance(gateway, MqttGateway) for gateway in gateways):
        parts += [
            f"readings published {published}",
            f"commands acknowledged {acknowledged}",
            f"buffered messages {buffered}",
        ]
    else:
        parts.append(f"requests answered {answered}")
    if offline:
        parts.append(f"offline: {', '.join(offline)}")
    return f"[{time.monotonic() - started:5.0f} s] " + " · ".join(parts)


def simulate(args: argparse.Namespace) -> int:
    try:
        _check(args)
        specs = _meter_specs(args)
        clock = SimClock(_start_time(args.start), speed=args.speed)
        simulation = Simulation(
            build_meters(specs, args.seed),
            clock,
            interval=timedelta(minutes=args.interval_minutes),
        )
    except (UsageError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    try:
        with contextlib.ExitStack() as stack:
            code = _run(args, specs, simulation, clock, stack)
    except KeyboardInterrupt:
        code = 0
    if code != USAGE_ERROR:
        print("Stopped.")
    return code


def _run(
    args: argparse.Namespace,
    specs: list[MeterSpec],
    simulation: Simulation,
    clock: SimClock,
    stack: contextlib.ExitStack,
) -> int:
    """Start everything (registering its clean-up on `stack`), then report until the end."""
    try:
        gateways = _start_gateways(args, simulation, assign_gateways(specs, args.gateways), stack)
        if args.outage_after is not None:
            outage = simulation.schedule_outage(
                args.outage_gateway or gateways[0].gateway_id,
                clock.start + clock.simulated(args.outage_after),
                clock.simulated(args.outage_for),
            )
    except (UsageError, ValueError, KeyError, OSError) as exc:
        print(f"error: {exc.args[0] if isinstance(exc, KeyError) else exc}", file=sys.stderr)
        return USAGE_ERROR
    water_count = sum(1 for spec in specs if spec.kind is MeterKind.WATER)
    print(
        f"Simulating {len(specs)} meters ({len(specs) - water_count} electricity, "
        f"{water_count} water) via {args.via}, speed ×{args.speed:g}, interval "
        f"{args.interval_minutes} min, seed {args.seed}, from {clock.start.isoformat()}"
    )
    for gateway in gateways:
        print(_describe(gateway))
    if args.outage_after is not None:
        print(
            f"Outage of {outage.gateway_id}: {outage.start:%Y-%m-%d %H:%M} to "
            f"{outage.end:%Y-%m-%d %H:%M} (simulated)"
        )
    stop = threading.Event()
    _stop_on_sigterm(stop, stack)
    runner = SimulationRunner(simulation).start()
    stack.callback(runner.stop)
    try:
        print("Press Ctrl-C to stop.", flush=True)
        code = _report_until_done(args, simulation, gateways, runner, stop)
    except KeyboardInterrupt:
        code = 0
    print("Stopping…", flush=True)
    return code


def _report_until_done(
    args: argparse.Namespace,
    simulation: Simulation,
    gateways: list[Gateway],
    runner: SimulationRunner,
    stop: threading.Event,
) -> int:
    started = time.monotonic()
    deadline = None if args.duration is None else started + args.duration
    while not stop.is_set():
        wait_s = args.progress_seconds
        if deadline is not None:
            wait_s = min(wait_s, deadline - time.monotonic())
        if wait_s > 0:
            stop.wait(wait_s)
        if runner.error is not None:
            print(f"error: the simulation stopped: {runner.error}", file=sys.stderr)
            return 1
        print(_progress(simulation, gateways, started), flush=True)
        if deadline is not None and time.monotonic() >= deadline:
            break
    return 0


def _start_gateways(
    args: argparse.Namespace,
    simulation: Simulation,
    groups: dict[str, list[str]],
    stack: contextlib.ExitStack,
) -> list[Gateway]:
    gateways: list[Gateway]
    if args.via == "mqtt":
        url = args.mqtt_url or os.environ.get("MQTT_URL")
        if not url:
            broker = EmbeddedBroker()
            url = broker.start()
            stack.callback(broker.stop)
            print(f"Embedded MQTT broker: {url}")
        else:
            print(f"MQTT broker: {url}")
        gateways = [
            MqttGateway(simulation, gateway_id, addresses, mqtt_url=url, organisation=args.org)
            for gateway_id, addresses in groups.items()
        ]
    else:
        loop_thread = EventLoopThread(name="submeter-simulate").start()
        stack.callback(loop_thread.stop)
        gateways = _tcp_gateways(args, simulation, groups, loop_thread)
    for gateway in gateways:
        gateway.start()
        stack.callback(gateway.stop)
        if isinstance(gateway, MqttGateway) and not gateway.online:
            raise UsageError(f"gateway {gateway.gateway_id} cannot connect to {gateway.mqtt_url}")
    return gateways


def _stop_on_sigterm(stop: threading.Event, stack: contextlib.ExitStack) -> None:
    """Make SIGTERM stop the run like Ctrl-C, until the run ends."""
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    stack.callback(signal.signal, signal.SIGTERM, previous)
