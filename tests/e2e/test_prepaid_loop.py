"""The prepaid loop end to end, over real sockets: a simulated meter publishes its readings over
MQTT → ingest → deduction → the balance falls through the alarm levels (each announced) →
arrears → the trip command reaches the simulated relay, which opens and acknowledges → a top-up
through the HTTP API → the close command reaches the relay within moments.
"""

import datetime
import json
import threading
import time
import urllib.request
from decimal import Decimal

import pytest
from rest_framework.authtoken.models import Token

from submeter.alarms.models import Notification
from submeter.billing.models import UsageCharge
from submeter.billing.queue import deductions
from submeter.control import transport
from submeter.control.models import (
    Command,
    CommandAction,
    CommandState,
    ControlSettings,
    PrepaidPolicy,
    SupplyPhase,
    SupplyState,
)
from submeter.ledger import services as ledger
from submeter.ledger.integrity import audit_ledger
from submeter.ledger.models import Account, Transaction
from submeter.metering.mqtt_ingest import IngestWorker
from submeter.mqtt.broker import EmbeddedBroker
from submeter.protocols.meter_clock import CHINA_TIME_ZONE
from submeter.scheduler import Scheduler
from submeter.simulator import (
    MeterSpec,
    MqttGateway,
    Profile,
    SimClock,
    Simulation,
    SimulationRunner,
    build_meters,
)
from tests.factories import (
    flat_tariff_document,
    make_customer,
    make_gateway,
    make_meter,
    make_organisation,
    make_tariff,
    make_user,
)

pytestmark = pytest.mark.django_db(transaction=True)

ADDRESS = "202611230001"


def wait_for(condition, what: str, timeout_s: float = 60.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
def running_park(settings):
    broker = None
    url = settings.MQTT_URL
    if not url:
        broker = EmbeddedBroker()
        url = broker.start()
    organisation = make_organisation(code=f"loop-{int(time.time() * 1000) % 10**8}")
    ControlSettings.objects.create(
        organisation=organisation, cutoff_notice_minutes=0, reconnect_margin=Decimal("1.00")
    )
    gateway = make_gateway(organisation, serial="GW-E2E")
    customer = make_customer(organisation, name="E2E tenant")
    PrepaidPolicy.objects.create(
        organisation=organisation, customer=customer, alarm_levels=["30.00", "15.00", "5.00"]
    )
    tariff = make_tariff(organisation, flat_tariff_document("4.00"))
    meter = make_meter(
        organisation,
        address=ADDRESS,
        gateway=gateway,
        customer=customer,
        tariff=tariff,
        rated_power_kw=Decimal("10"),
    )
    ledger.topup(None, customer, "40.00", "cash", fee_percent=Decimal("0"))

    worker = IngestWorker(url, client_id=f"e2e-ingest-{organisation.code}", share_group="")
    worker.subscription_organisation = organisation.code
    worker.mqtt5 = broker is None
    worker.start()
    transport.start(url, organisation=organisation.code)
    scheduler = Scheduler()
    ingest_thread = threading.Thread(target=worker.run, daemon=True)
    ingest_thread.start()
    scheduler_thread = scheduler.start()

    # A shop drawing ~6 kW: at ¥4/kWh the ¥40 last about 100 simulated minutes; one
    # simulated day passes in 24 s.
    start = datetime.datetime.now(CHINA_TIME_ZONE) - datetime.timedelta(days=1)
    start = start.replace(hour=9, minute=0, second=0, microsecond=0)
    spec = MeterSpec(ADDRESS, rated_power_kw=8.0, profile=Profile.SHOP, gateway="GW-E2E")
    simulation = Simulation(build_meters([spec], seed=3), SimClock(start, speed=3600.0))
    sim_gateway = MqttGateway(
        simulation, "GW-E2E", [ADDRESS], mqtt_url=url, organisation=organisation.code
    )
    sim_gateway.start()
    runner = SimulationRunner(simulation, tick_s=0.1).start()
    try:
        yield organisation, customer, meter, simulation
    finally:
        runner.stop()
        sim_gateway.stop()
        scheduler.stop()
        worker.stop()
        ingest_thread.join(timeout=10)
        scheduler_thread.join(timeout=10)
        deductions.drain(timeout_s=10)
        transport.stop()
        if broker is not None:
            broker.stop()


def post_topup(live_server, user, customer, amount: str) -> dict:
    token, _created = Token.objects.get_or_create(user=user)
    request = urllib.request.Request(
        f"{live_server.url}/api/v1/customers/{customer.pk}/topups/",
        data=json.dumps({"amount": amount, "channel": "wechat"}).encode(),
        headers={
            "Authorization": f"Bearer {token.key}",
            "Content-Type": "application/json",
            "Idempotency-Key": f"e2e-{customer.pk}-{amount}",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        return json.loads(response.read())


def test_tenant_runs_out_is_cut_off_and_restored_by_a_topup(running_park, live_server):
    organisation, customer, meter, simulation = running_park
    simulated = simulation.meter(ADDRESS)

    trip = wait_for(
        lambda: Command.objects.filter(
            meter=meter, action=CommandAction.TRIP, state=CommandState.ACKNOWLEDGED
        ).first(),
        "the trip to be acknowledged",
    )
    assert simulated.relay_open
    assert Decimal(trip.cause["balance"]) < 0
    assert SupplyState.objects.get(meter=meter).phase == SupplyPhase.DISCONNECTED
    levels = Notification.objects.filter(customer=customer, kind="balance_low", channel="in_app")
    assert sorted(n.context["level"] for n in levels) == [1, 2, 3]
    assert Notification.objects.filter(customer=customer, kind="cut_off").exists()

    user = make_user(organisation)
    post_topup(live_server, user, customer, "100.00")
    wait_for(lambda: not simulated.relay_open, "the simulated relay to close", timeout_s=10)
    close = Command.objects.get(meter=meter, action=CommandAction.CLOSE)
    wait_for(
        lambda: Command.objects.get(pk=close.pk).state == CommandState.ACKNOWLEDGED,
        "the close to be acknowledged",
        timeout_s=10,
    )
    assert SupplyState.objects.get(meter=meter).phase == SupplyPhase.ON

    # Every fen is in the statement: the charges posted equal the usage charges billed.
    deductions.drain()
    posted = sum(
        Transaction.objects.filter(customer=customer, kind="charge").values_list(
            "amount", flat=True
        ),
        Decimal("0.00"),
    )
    billed = sum(
        UsageCharge.objects.filter(meter=meter).values_list("posted_amount", flat=True),
        Decimal("0.00"),
    )
    assert posted == billed > Decimal("40.00")
    wallet = Account.objects.get(customer=customer, kind="wallet")
    assert wallet.balance == Decimal("140.00") - posted
    assert audit_ledger().ok
