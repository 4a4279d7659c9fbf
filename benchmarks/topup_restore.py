"""Top-up → restore benchmark: N simulated meters are cut off for arrears; each tenant is topped
up through the HTTP API (one request after another); the time from the top-up to the simulated
relay's "closed" acknowledgement arriving over MQTT is printed as p50/p99/max. Then readings per
second through ingest + deduction + prepaid policy, against ingest alone in the same run.

    .venv/bin/python benchmarks/topup_restore.py [--meters 1000] [--intervals 5] [--postgres URL]
                                                 [--mosquitto]

The broker is a private Mosquitto started with `set_tcp_nodelay true` (`--mosquitto`, needs the
mosquitto binary), else $MQTT_URL, else the embedded one; the API is served by waitress on a free
loopback port; the meters are the simulator's, behind MQTT gateways of 100 meters each.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import setup_database

PER_GATEWAY = 100


def start_mosquitto():
    """A private Mosquitto on a free loopback port, with Nagle's algorithm off (the setting a
    production broker for commands should have)."""
    import shutil
    import socket
    import subprocess

    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = Path(tempfile.mkdtemp(prefix="submeter-mosquitto-")) / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"
        "max_inflight_messages 0\nmax_queued_messages 100000\n"
    )
    process = subprocess.Popen([binary, "-c", str(config)], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return process, f"mqtt://127.0.0.1:{port}"
        time.sleep(0.05)
    process.kill()
    raise SystemExit("mosquitto did not start")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def seed(code: str, meters: int):
    """An organisation with `meters` tenants, each with one meter, cut off for arrears."""
    from submeter.control.models import ControlSettings, SupplyPhase, SupplyState
    from submeter.control.policy import on_balance_changed
    from submeter.customers.models import Customer
    from submeter.ledger import services as ledger
    from submeter.ledger.signals import balance_changed
    from submeter.metering.models import Gateway, Meter
    from submeter.tariffs.models import Tariff
    from submeter.tenancy.models import Membership, Organisation, User

    organisation = Organisation.objects.create(name=code, code=code)
    ControlSettings.objects.create(organisation=organisation, cutoff_notice_minutes=0)
    tariff = Tariff.objects.create(
        organisation=organisation,
        name="flat",
        utility="electricity",
        document={
            "id": "flat",
            "utility": "electricity",
            "timezone": "Asia/Shanghai",
            "versions": [{"valid_from": "2020-01-01", "energy": {"kind": "flat", "price": "1.00"}}],
        },
    )
    gateways = Gateway.objects.bulk_create(
        Gateway(organisation=organisation, name=f"gw-{g:03d}", serial=f"gw-{g:03d}")
        for g in range((meters + PER_GATEWAY - 1) // PER_GATEWAY)
    )
    customers = Customer.objects.bulk_create(
        Customer(organisation=organisation, name=f"tenant {n}", notify_sms=False)
        for n in range(meters)
    )
    stored = Meter.objects.bulk_create(
        Meter(
            organisation=organisation,
            address=f"{n:012d}",
            gateway=gateways[n // PER_GATEWAY],
            customer=customers[n],
            tariff=tariff,
            rated_power_kw=Decimal("50"),
            online_state="online",
        )
        for n in range(meters)
    )
    # Arrears without the policy listening: the supply states below say "already cut off".
    balance_changed.disconnect(dispatch_uid="control.policy")
    try:
        for customer in customers:
            ledger.topup(None, customer, "1.00", "cash", fee_percent=Decimal("0"))
            ledger.charge(
                None, customer, "3.00", "electricity", idempotency_key=f"arrears-{customer.pk}"
            )
    finally:
        balance_changed.connect(on_balance_changed, dispatch_uid="control.policy")
    SupplyState.objects.bulk_create(
        SupplyState(
            organisation=organisation,
            meter=meter,
            desired_on=False,
            phase=SupplyPhase.DISCONNECTED,
            relay_closed=False,
        )
        for meter in stored
    )
    user = User.objects.create_user(username=f"bench-{code}", password=uuid.uuid4().hex)
    Membership.objects.create(user=user, organisation=organisation, role="administrator")
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=user)
    return organisation, customers, stored, token.key


class AckClock:
    """Records when each meter's "relay closed" acknowledgement arrives over MQTT."""

    def __init__(self, url: str, code: str) -> None:
        from submeter.mqtt.client import connect
        from submeter.protocols.mqtt_topics import TopicKind, subscription_filter

        self.closed_at: dict[str, float] = {}
        self.closed_wall: dict[str, float] = {}
        self.done = threading.Condition()
        self.client = connect(
            url,
            client_id=f"bench-acks-{uuid.uuid4().hex[:8]}",
            subscriptions=[(subscription_filter(TopicKind.ACKS, code), 1)],
            on_message=self._on_message,
        )

    def _on_message(self, client, userdata, message) -> None:
        from submeter.protocols.mqtt_payloads import RelayState, parse_ack

        arrived, arrived_wall = time.perf_counter(), time.time()
        ack = parse_ack(message.payload)
        if ack.relay_state == RelayState.CLOSED:
            with self.done:
                self.closed_at.setdefault(ack.meter_address, arrived)
                self.closed_wall.setdefault(ack.meter_address, arrived_wall)
                self.done.notify_all()

    def wait(self, count: int, timeout_s: float) -> bool:
        with self.done:
            return self.done.wait_for(lambda: len(self.closed_at) >= count, timeout=timeout_s)

    def stop(self) -> None:
        from submeter.mqtt.client import disconnect

        disconnect(self.client)


def serve_api():
    from waitress import create_server

    from submeter.wsgi import application

    server = create_server(application, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    return server, f"http://127.0.0.1:{server.effective_port}"


def top_up(base: str, token: str, customer_id: int) -> None:
    request = urllib.request.Request(
        f"{base}/api/v1/customers/{customer_id}/topups/",
        data=json.dumps({"amount": "50.00", "channel": "wechat"}).encode(),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Idempotency-Key": f"bench-{customer_id}",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        if response.status != 201:
            raise SystemExit(f"top-up answered {response.status}")
        response.read()


def restore_latency(url: str, meters: int) -> dict:
    from submeter.control import transport
    from submeter.protocols.meter_clock import CHINA_TIME_ZONE
    from submeter.simulator import ManualClock, MeterAction, MeterSpec, MqttGateway, Simulation
    from submeter.simulator import build_meters as build_sim_meters

    code = f"bench-{uuid.uuid4().hex[:8]}"
    print(f"  seeding {meters} tenants in arrears, meters cut off…", flush=True)
    organisation, customers, stored, token = seed(code, meters)
    now = datetime.datetime.now(CHINA_TIME_ZONE)
    simulation = Simulation(
        build_sim_meters([MeterSpec(m.address, gateway=m.gateway.serial) for m in stored], seed=1),
        ManualClock(now),
    )
    for meter in simulation.meters.values():
        meter.apply(MeterAction.TRIP, now)
    gateways = []
    for g in range(0, meters, PER_GATEWAY):
        addresses = [m.address for m in stored[g : g + PER_GATEWAY]]
        gateway = MqttGateway(
            simulation, stored[g].gateway.serial, addresses, mqtt_url=url, organisation=code
        )
        gateway.start()
        gateways.append(gateway)
    transport.start(url, organisation=code)
    acks = AckClock(url, code)
    server, base = serve_api()
    print(f"  topping up {meters} tenants through {base}…", flush=True)
    sent_at, answered_at = {}, {}
    try:
        for customer, meter in zip(customers, stored, strict=True):
            sent_at[meter.address] = time.perf_counter()
            top_up(base, token, customer.pk)
            answered_at[meter.address] = time.perf_counter()
        complete = acks.wait(meters, timeout_s=60)
    finally:
        server.close()
        acks.stop()
        transport.stop()
        for gateway in gateways:
            gateway.stop()
    closed = acks.closed_at
    from submeter.ledger.models import Transaction

    recorded = {
        meter.address: created.timestamp()
        for meter in stored
        for created in Transaction.objects.filter(
            organisation=organisation, idempotency_key=f"bench-{meter.customer_id}"
        ).values_list("created_at", flat=True)
    }
    from_recorded = [(acks.closed_wall[a] - recorded[a]) * 1000 for a in closed if a in recorded]
    if not complete:
        print(f"  only {len(closed)} of {meters} relays acknowledged closing", flush=True)
    from_request = [(closed[a] - sent_at[a]) * 1000 for a in closed]
    from_answer = [(closed[a] - answered_at[a]) * 1000 for a in closed]
    request_ms = [(answered_at[a] - sent_at[a]) * 1000 for a in answered_at]
    relays_closed = sum(1 for m in simulation.meters.values() if not m.relay_open)
    return {
        "organisation": organisation,
        "restored": len(closed),
        "relays_closed": relays_closed,
        "from_request": from_request,
        "from_recorded": from_recorded,
        "from_answer": from_answer,
        "request_ms": request_ms,
    }


def readings_rate(organisation, meters: list, intervals: int) -> float:
    """Readings per second stored (and, for billable meters, deducted and evaluated)."""
    from submeter.billing.queue import deductions
    from submeter.metering.ingest import ReadingIn, ingest

    start = datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC)

    def batch(interval: int) -> list:
        at = start + datetime.timedelta(minutes=15 * interval)
        return [
            ReadingIn(
                organisation_id=organisation.pk,
                meter_address=meter.address,
                timestamp=at,
                registers={"energy_kwh": Decimal(100 + interval) + Decimal(n % 7) / 10},
                source="mqtt",
            )
            for n, meter in enumerate(meters)
        ]

    ingest(batch(0))  # opens the billing cursors: nothing to bill yet
    deductions.drain(timeout_s=600)
    batches = [batch(i) for i in range(1, intervals + 1)]
    started = time.perf_counter()
    for readings in batches:
        ingest(readings)
    if not deductions.drain(timeout_s=600):
        raise SystemExit("deductions did not finish")
    return len(meters) * intervals / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=1000)
    parser.add_argument("--intervals", type=int, default=5)
    parser.add_argument("--postgres", help="PostgreSQL URL (a database next to it is used)")
    parser.add_argument(
        "--mosquitto", action="store_true", help="start a private Mosquitto with TCP_NODELAY"
    )
    args = parser.parse_args()

    if args.postgres:
        database = args.postgres
    else:
        database = f"sqlite:///{tempfile.mkdtemp(prefix='submeter-bench-')}/bench.sqlite3"
    setup_database(database)
    from django.conf import settings

    broker = mosquitto = None
    url = settings.MQTT_URL
    if args.mosquitto:
        mosquitto, url = start_mosquitto()
    elif not url:
        from submeter.mqtt.broker import EmbeddedBroker

        broker = EmbeddedBroker()
        url = broker.start()
    print(f"Database: {database.split('@')[-1]}  broker: {url}", flush=True)
    try:
        result = restore_latency(url, args.meters)
    finally:
        if broker is not None:
            broker.stop()
        if mosquitto is not None:
            mosquitto.terminate()
    print(f"\nTop-up → relay closed acknowledgement, {result['restored']} of {args.meters} meters")
    for label, values in (
        ("from the top-up recorded", result["from_recorded"]),
        ("from the request sent", result["from_request"]),
        ("from the 201 answer", result["from_answer"]),
        ("the top-up request itself", result["request_ms"]),
    ):
        print(
            f"  {label:28s} p50 {percentile(values, 0.5):7.1f} ms   "
            f"p99 {percentile(values, 0.99):7.1f} ms   max {max(values):7.1f} ms   "
            f"mean {statistics.fmean(values):6.1f} ms"
        )
    print(f"  simulated relays closed: {result['relays_closed']} of {args.meters}")

    from submeter.metering.models import Meter

    organisation = result["organisation"]
    billable = list(Meter.objects.filter(organisation=organisation).order_by("pk"))
    plain = Meter.objects.bulk_create(
        Meter(organisation=organisation, address=f"9{n:011d}", rated_power_kw=Decimal("50"))
        for n in range(len(billable))
    )
    print(f"\nReadings: {len(billable)} meters × {args.intervals} intervals", flush=True)
    ingest_only = readings_rate(organisation, plain, args.intervals)
    full = readings_rate(organisation, billable, args.intervals)
    print(f"  ingest only                           {ingest_only:8.0f} readings/s")
    print(f"  ingest + deduction + prepaid policy   {full:8.0f} readings/s")
    print(f"  ratio                                 {full / ingest_only:8.2f}")


if __name__ == "__main__":
    main()
