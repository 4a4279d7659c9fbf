import json

from submeter.metering.models import Reading
from submeter.tenancy.roles import Role
from tests.factories import api_client, make_gateway, make_meter, make_user


def body(gateway="GW-1", address="123", energy="100.50", timestamp="2026-11-01T08:00:00+08:00"):
    return json.dumps(
        {
            "gateway_id": gateway,
            "message_id": "m-1",
            "readings": [
                {
                    "meter_address": address,
                    "timestamp": timestamp,
                    "registers": {"energy_kwh": energy},
                }
            ],
        }
    )


def test_push_stores_readings_once(org):
    make_gateway(org, serial="GW-1")
    make_meter(org, address="123")
    client = api_client(make_user(org, Role.ELECTRICIAN))

    first = client.post("/api/v1/readings/", body(), content_type="application/json")
    again = client.post("/api/v1/readings/", body(), content_type="application/json")

    assert first.json() == {"stored": 1, "duplicates": 0, "quarantined": 0}
    assert again.json() == {"stored": 0, "duplicates": 1, "quarantined": 0}
    assert Reading.objects.count() == 1


def test_numbers_for_registers_are_refused_naming_the_field(org):
    make_gateway(org, serial="GW-1")
    payload = json.loads(body())
    payload["readings"][0]["registers"]["energy_kwh"] = 100.5

    answer = api_client(make_user(org)).post(
        "/api/v1/readings/", json.dumps(payload), content_type="application/json"
    )

    assert answer.status_code == 400
    assert "readings[0].registers.energy_kwh" in answer.json()["error"]["fields"]


def test_another_organisations_gateway_is_404(org, other_org):
    make_gateway(other_org, serial="GW-THEIRS")

    answer = api_client(make_user(org)).post(
        "/api/v1/readings/", body(gateway="GW-THEIRS"), content_type="application/json"
    )

    assert answer.status_code == 404


def test_garbage_body_is_400(org):
    answer = api_client(make_user(org)).post(
        "/api/v1/readings/", "{not json", content_type="application/json"
    )

    assert answer.status_code == 400
