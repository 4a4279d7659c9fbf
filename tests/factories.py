"""Test data builders. Each returns a saved object with sensible defaults; override what matters."""

from __future__ import annotations

import itertools
from decimal import Decimal

from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from submeter.customers.models import Customer
from submeter.metering.models import Gateway, Meter
from submeter.sites.models import Building, Floor, Room
from submeter.tenancy.models import Membership, Organisation, User
from submeter.tenancy.roles import Role

_sequence = itertools.count(1)


def _next() -> int:
    return next(_sequence)


def make_organisation(name: str = "", parent: Organisation | None = None, **fields) -> Organisation:
    n = _next()
    return Organisation.objects.create(
        name=name or f"Org {n}", code=fields.pop("code", f"org-{n}"), parent=parent, **fields
    )


def make_user(
    organisation: Organisation | None = None, role: str = Role.ADMINISTRATOR, **fields
) -> User:
    n = _next()
    password = fields.pop("password", "correct-horse-battery")
    user = User.objects.create_user(
        username=fields.pop("username", f"user{n}"), password=password, **fields
    )
    if organisation is not None:
        Membership.objects.create(user=user, organisation=organisation, role=role)
    return user


def make_building(organisation: Organisation, name: str = "", **fields) -> Building:
    return Building.objects.create(
        organisation=organisation, name=name or f"Building {_next()}", **fields
    )


def make_floor(building: Building, level: int | None = None, **fields) -> Floor:
    return Floor.objects.create(
        organisation_id=building.organisation_id,
        building=building,
        level=level if level is not None else _next(),
        **fields,
    )


def make_room(
    floor: Floor | None = None, organisation: Organisation | None = None, **fields
) -> Room:
    if floor is None:
        floor = make_floor(make_building(organisation))
    return Room.objects.create(
        organisation_id=floor.organisation_id,
        floor=floor,
        number=fields.pop("number", str(_next())),
        area_m2=fields.pop("area_m2", Decimal("50.00")),
        **fields,
    )


def make_customer(organisation: Organisation, **fields) -> Customer:
    return Customer.objects.create(
        organisation=organisation, name=fields.pop("name", f"Tenant {_next()}"), **fields
    )


def make_gateway(organisation: Organisation, **fields) -> Gateway:
    n = _next()
    return Gateway.objects.create(
        organisation=organisation,
        name=fields.pop("name", f"GW {n}"),
        serial=fields.pop("serial", f"GW-{n}"),
        **fields,
    )


def make_meter(organisation: Organisation, **fields) -> Meter:
    return Meter.objects.create(
        organisation=organisation, address=fields.pop("address", f"{_next():012d}"), **fields
    )


def api_client(user: User | None = None) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _created = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.key}")
    return client


def make_notification(customer: Customer, kind: str = "balance_low", **fields):
    """Notifications of `customer` recorded through `alarms.services.notify` (one per channel)."""
    from submeter.alarms.services import notify

    context = fields.pop("context", {"level": 1, "balance": Decimal("20.00")})
    dedupe_key = fields.pop("dedupe_key", f"test-{_next()}")
    return notify(customer, kind, context=context, dedupe_key=dedupe_key, **fields)


def flat_tariff_document(price: str = "1.00", utility: str = "electricity") -> dict:
    return {
        "id": f"flat-{_next()}",
        "utility": utility,
        "timezone": "Asia/Shanghai",
        "versions": [{"valid_from": "2020-01-01", "energy": {"kind": "flat", "price": price}}],
    }


def make_tariff(organisation: Organisation, document: dict | None = None, **fields):
    from submeter.tariffs.models import Tariff

    document = document or flat_tariff_document()
    return Tariff.objects.create(
        organisation=organisation,
        name=fields.pop("name", f"Tariff {_next()}"),
        utility=document["utility"],
        document=document,
        **fields,
    )


def make_reading(meter: Meter, timestamp, source: str = "mqtt", **registers):
    """Store a reading directly (no validation): registers as decimal strings or Decimals."""
    from submeter.metering.models import Reading

    return Reading.objects.create(
        meter=meter,
        organisation_id=meter.organisation_id,
        timestamp=timestamp,
        source=source,
        **{name: Decimal(str(value)) for name, value in registers.items()},
    )


def make_prepaid_policy(customer: Customer, **fields):
    """A customer's prepaid policy row as the policy would leave it (alarm level, arrears…)."""
    from submeter.control.models import PrepaidPolicy

    return PrepaidPolicy.objects.create(
        organisation_id=customer.organisation_id, customer=customer, **fields
    )


def make_supply_state(meter: Meter, phase: str = "on", **fields):
    from submeter.control.models import SupplyState

    return SupplyState.objects.create(
        organisation_id=meter.organisation_id, meter=meter, phase=phase, **fields
    )
