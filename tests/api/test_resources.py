from decimal import Decimal

from submeter.metering.models import Meter
from submeter.tenancy.models import AuditEntry
from tests.factories import (
    api_client,
    make_building,
    make_customer,
    make_floor,
    make_room,
    make_user,
)


def test_building_floor_room_crud(org):
    client = api_client(make_user(org))

    building = client.post("/api/v1/buildings/", {"name": "A栋"}, format="json").json()
    floor = client.post(
        "/api/v1/floors/", {"building": building["id"], "level": 1}, format="json"
    ).json()
    room = client.post(
        "/api/v1/rooms/", {"floor": floor["id"], "number": "101", "area_m2": "48.50"}, format="json"
    )

    assert room.status_code == 201
    assert room.json()["area_m2"] == "48.50"
    assert room.json()["organisation"] == org.pk
    patched = client.patch(f"/api/v1/rooms/{room.json()['id']}/", {"area_m2": "50"}, format="json")
    assert patched.json()["area_m2"] == "50.00"
    assert client.delete(f"/api/v1/rooms/{room.json()['id']}/").status_code == 204


def test_deleting_a_building_in_use_is_409_and_keeps_it(org):
    building = make_building(org)
    make_floor(building)
    client = api_client(make_user(org))

    answer = client.delete(f"/api/v1/buildings/{building.pk}/")

    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "in_use"


def test_list_is_paginated_and_filterable(org):
    building = make_building(org)
    floor_1, floor_2 = make_floor(building, 1), make_floor(building, 2)
    for n in range(3):
        make_room(floor_1, number=f"1{n}")
    make_room(floor_2, number="201")
    client = api_client(make_user(org))

    page = client.get(f"/api/v1/rooms/?floor={floor_1.pk}&page_size=2").json()

    assert page["count"] == 3
    assert len(page["results"]) == 2
    assert page["next"]


def test_duplicate_meter_address_is_rejected_with_a_clear_message(org):
    client = api_client(make_user(org))
    assert (
        client.post("/api/v1/meters/", {"address": "123456789012"}, format="json").status_code
        == 201
    )

    answer = client.post(
        "/api/v1/meters/", {"address": "123456789012"}, format="json", HTTP_ACCEPT_LANGUAGE="en"
    )

    assert answer.status_code == 400
    assert answer.json()["error"]["fields"]["address"] == [
        "A meter with this address already exists."
    ]
    assert Meter.objects.filter(address="123456789012").count() == 1


def test_meter_amounts_are_strings_and_decimal(org):
    client = api_client(make_user(org))

    meter = client.post(
        "/api/v1/meters/",
        {"address": "1", "ct_ratio": "150", "rated_power_kw": "7.5"},
        format="json",
    ).json()

    assert meter["ct_ratio"] == "150.00"
    assert Meter.objects.get(pk=meter["id"]).rated_power_kw == Decimal("7.500")


def test_customer_rooms_are_assigned_and_audited(org):
    room = make_room(organisation=org)
    client = api_client(make_user(org))

    customer = client.post(
        "/api/v1/customers/", {"name": "李氏科技", "rooms": [room.pk]}, format="json"
    ).json()

    room.refresh_from_db()
    assert room.customer_id == customer["id"]
    assert AuditEntry.objects.filter(
        action="customer.rooms", object_id=str(customer["id"])
    ).exists()


def test_customer_cannot_take_another_organisations_room(org, other_org):
    their_room = make_room(organisation=other_org)
    customer = make_customer(org)
    client = api_client(make_user(org))

    answer = client.patch(
        f"/api/v1/customers/{customer.pk}/", {"rooms": [their_room.pk]}, format="json"
    )

    assert answer.status_code == 400
    their_room.refresh_from_db()
    assert their_room.customer_id is None


def test_every_write_is_in_the_audit_log_with_before_and_after(org):
    user = make_user(org)
    client = api_client(user)
    building = client.post("/api/v1/buildings/", {"name": "A栋"}, format="json").json()

    client.patch(f"/api/v1/buildings/{building['id']}/", {"name": "B栋"}, format="json")

    entry = AuditEntry.objects.filter(object_type="sites.building", action="update").get()
    assert entry.actor == user
    assert entry.before == {"name": "A栋"}
    assert entry.after == {"name": "B栋"}
