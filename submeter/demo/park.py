"""Seed the demo park: 示范园区 / Demo Park, 3 buildings × 5 floors × 20 rooms, tenants in most
rooms, one electricity meter per room, water meters on the ground floors, gateways.

Idempotent: running it again on a seeded database changes nothing.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction

from submeter.control.models import ControlSettings
from submeter.customers.models import Customer
from submeter.ledger import services as ledger
from submeter.metering.models import Gateway, GatewayProtocol, Meter, MeterKind
from submeter.sites.models import Building, Floor, Room
from submeter.tariffs.models import Tariff
from submeter.tenancy.audit import record
from submeter.tenancy.models import Membership, Organisation
from submeter.tenancy.roles import Role

DEMO_CODE = "demo-park"
DEMO_NAME = "示范园区 Demo Park"
BUILDINGS = ("A栋", "B栋", "C栋")
FLOORS = 5
ROOMS_PER_FLOOR = 20
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
TRADES = ("商贸", "科技", "餐饮", "文化", "设计", "物流", "咨询", "电子", "服饰", "医药")


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    created: bool


@transaction.atomic
def seed_demo_park(password: str | None = None) -> tuple[Organisation, DemoLogin]:
    organisation = Organisation.objects.filter(code=DEMO_CODE).first()
    if organisation is None:
        organisation = Organisation.objects.create(name=DEMO_NAME, code=DEMO_CODE)
        record(None, "create", organisation, after={"name": DEMO_NAME, "code": DEMO_CODE})
        _seed_sites(organisation)
    if not Tariff.objects.filter(organisation=organisation).exists():
        _seed_money(organisation)
    return organisation, _ensure_admin(organisation, password)


def _ensure_admin(organisation: Organisation, password: str | None) -> DemoLogin:
    User = get_user_model()
    user = User.objects.filter(username="admin").first()
    created = user is None
    if created:
        password = password or secrets.token_urlsafe(9)
        user = User.objects.create_user(username="admin", password=password)
    Membership.objects.get_or_create(
        user=user, organisation=organisation, defaults={"role": Role.ADMINISTRATOR}
    )
    return DemoLogin("admin", password or "", created)


def _seed_sites(organisation: Organisation) -> None:
    rng = random.Random(20261122)
    for b_index, building_name in enumerate(BUILDINGS, start=1):
        building = Building.objects.create(
            organisation=organisation, name=building_name, address=f"示范路{b_index}号"
        )
        gateway = Gateway.objects.create(
            organisation=organisation,
            name=f"{building_name}网关",
            serial=f"GW-{b_index:02d}",
            protocol=GatewayProtocol.MQTT,
        )
        floors = Floor.objects.bulk_create(
            Floor(organisation=organisation, building=building, level=level, name=f"{level}层")
            for level in range(1, FLOORS + 1)
        )
        rooms = []
        for floor in floors:
            for number in range(1, ROOMS_PER_FLOOR + 1):
                rooms.append(
                    Room(
                        organisation=organisation,
                        floor=floor,
                        number=f"{b_index}{floor.level}{number:02d}",
                        area_m2=Decimal(rng.choice([35, 48, 60, 72, 96, 120])) + Decimal("0.50"),
                    )
                )
        Room.objects.bulk_create(rooms)
        occupied = [room for room in rooms if rng.random() < 0.85]
        customers = Customer.objects.bulk_create(
            Customer(
                organisation=organisation,
                name=f"{rng.choice(SURNAMES)}氏{rng.choice(TRADES)}有限公司（{room.number}）",
                contact_name=f"{rng.choice(SURNAMES)}经理",
                phone=f"139{rng.randrange(10**8):08d}",
            )
            for room in occupied
        )
        for room, customer in zip(occupied, customers, strict=True):
            room.customer = customer
        Room.objects.bulk_update(occupied, ["customer"])
        meters = []
        for room in rooms:
            meters.append(
                Meter(
                    organisation=organisation,
                    kind=MeterKind.ELECTRICITY,
                    phases=3 if room.area_m2 >= 96 else 1,
                    address=f"2026{b_index:02d}{room.floor.level:02d}{room.number[-2:]}00",
                    model="DTSD1352" if room.area_m2 >= 96 else "DDSY1352",
                    rated_power_kw=Decimal("20") if room.area_m2 >= 96 else Decimal("8"),
                    gateway=gateway,
                    room=room,
                    customer=room.customer,
                )
            )
            if room.floor.level == 1:
                meters.append(
                    Meter(
                        organisation=organisation,
                        kind=MeterKind.WATER,
                        address=f"1026{b_index:02d}{room.number[-2:]}000",
                        model="CJ/T188 DN20",
                        gateway=gateway,
                        room=room,
                        customer=room.customer,
                    )
                )
        Meter.objects.bulk_create(meters)


ELECTRICITY_TARIFF = {
    "id": "demo-commercial-tou",
    "name": "商业分时电价 Commercial time-of-use",
    "utility": "electricity",
    "timezone": "Asia/Shanghai",
    "versions": [
        {
            "valid_from": "2026-01-01",
            "energy": {
                "kind": "tou",
                "rates": {
                    "sharp": {"price": "1.45"},
                    "peak": {"price": "1.20"},
                    "flat": {"price": "0.85"},
                    "valley": {"price": "0.45"},
                },
                "day_profiles": {
                    "workday": [
                        {"from": "00:00", "to": "08:00", "rate": "valley"},
                        {"from": "08:00", "to": "10:00", "rate": "flat"},
                        {"from": "10:00", "to": "12:00", "rate": "sharp"},
                        {"from": "12:00", "to": "18:00", "rate": "peak"},
                        {"from": "18:00", "to": "22:00", "rate": "flat"},
                        {"from": "22:00", "to": "24:00", "rate": "valley"},
                    ]
                },
                "seasons": [
                    {
                        "name": "all year",
                        "months": list(range(1, 13)),
                        "profiles": {"workday": "workday"},
                    }
                ],
            },
        }
    ],
}
WATER_TARIFF = {
    "id": "demo-water",
    "name": "商业用水 Commercial water",
    "utility": "water",
    "timezone": "Asia/Shanghai",
    "versions": [{"valid_from": "2026-01-01", "energy": {"kind": "flat", "price": "4.95"}}],
}
LOW_BALANCE_TENANTS = 12
"""Tenants seeded with little money: some run out during the demo's first minutes."""


def _seed_money(organisation: Organisation) -> None:
    """Tariffs on every meter, an opening balance in every wallet (a few of them low), and
    control settings that make the prepaid loop visible within minutes."""
    rng = random.Random(20261123)
    electricity = Tariff.objects.create(
        organisation=organisation,
        name=ELECTRICITY_TARIFF["name"],
        utility="electricity",
        document=ELECTRICITY_TARIFF,
    )
    water = Tariff.objects.create(
        organisation=organisation, name=WATER_TARIFF["name"], utility="water", document=WATER_TARIFF
    )
    Meter.objects.filter(organisation=organisation, kind=MeterKind.ELECTRICITY).update(
        tariff=electricity
    )
    Meter.objects.filter(organisation=organisation, kind=MeterKind.WATER).update(tariff=water)
    ControlSettings.objects.update_or_create(
        organisation=organisation,
        defaults={"cutoff_notice_minutes": 2, "reconnect_margin": Decimal("1.00")},
    )
    customers = list(Customer.objects.filter(organisation=organisation).order_by("pk"))
    low = set(rng.sample(range(len(customers)), min(LOW_BALANCE_TENANTS, len(customers))))
    for index, customer in enumerate(customers):
        amount = (
            Decimal(rng.randrange(60, 160)) if index in low else Decimal(rng.randrange(8, 40) * 50)
        )
        ledger.topup(
            None,
            customer,
            amount,
            "transfer",
            idempotency_key=f"demo-opening-{customer.pk}",
            reason="opening balance",
            fee_percent=Decimal("0"),
        )
