"""The command API: list with filters, send, resend, and the two-step cut-off."""

from __future__ import annotations

from submeter.control import services
from submeter.control.models import Command, CommandAction, CommandState
from submeter.tenancy.roles import Role
from tests.factories import api_client, make_gateway, make_meter, make_user


def meter_of(organisation):
    return make_meter(organisation, gateway=make_gateway(organisation))


def test_a_cut_off_is_armed_then_confirmed_through_the_api(org, admin_user):
    meter = meter_of(org)
    client = api_client(admin_user)
    armed = client.post(f"/api/v1/meters/{meter.pk}/cutoff/arm")
    assert armed.status_code == 201
    confirmed = client.post(
        "/api/v1/cutoffs/confirm", {"token": armed.json()["token"], "reason": "tampering"}
    )
    assert confirmed.status_code == 201
    assert confirmed.json()["action"] == "trip"
    again = client.post(
        "/api/v1/cutoffs/confirm", {"token": armed.json()["token"], "reason": "tampering"}
    )
    assert again.status_code == 409
    assert Command.objects.filter(meter=meter).count() == 1


def test_another_organisations_meter_cannot_be_armed(org, other_org, admin_user):
    meter = meter_of(other_org)
    answer = api_client(admin_user).post(f"/api/v1/meters/{meter.pk}/cutoff/arm")
    assert answer.status_code == 404


def test_a_viewer_cannot_arm_a_cut_off(org):
    meter = meter_of(org)
    viewer = make_user(org, role=Role.VIEWER)
    answer = api_client(viewer).post(f"/api/v1/meters/{meter.pk}/cutoff/arm")
    assert answer.status_code == 403


def test_a_trip_cannot_be_created_directly(org, admin_user):
    meter = meter_of(org)
    answer = api_client(admin_user).post(
        "/api/v1/commands/",
        {"meter": meter.pk, "action": "trip", "reason": "x"},
        format="json",
    )
    assert answer.status_code == 400
    assert not Command.objects.exists()


def test_a_power_limit_command_is_created(org, admin_user):
    meter = meter_of(org)
    answer = api_client(admin_user).post(
        "/api/v1/commands/",
        {
            "meter": meter.pk,
            "action": "set_power_limit",
            "params": {"power_limit_kw": "3"},
            "reason": "dorm rule",
        },
        format="json",
    )
    assert answer.status_code == 201
    assert answer.json()["state"] == "queued"


def test_the_list_filters_failed_unknown_and_expired(org, admin_user):
    meter = meter_of(org)
    queued = services.send(None, meter, CommandAction.READ)
    failed = services.send(None, meter, CommandAction.READ)
    Command.objects.filter(pk=failed.pk).update(state=CommandState.FAILED)
    answer = api_client(admin_user).get("/api/v1/commands/?state=failed,unknown,expired")
    ids = [row["id"] for row in answer.json()["results"]]
    assert ids == [failed.pk]
    assert queued.pk not in ids


def test_a_failed_command_is_resent_through_the_api(org, admin_user):
    meter = meter_of(org)
    failed = services.send(None, meter, CommandAction.READ)
    Command.objects.filter(pk=failed.pk).update(state=CommandState.FAILED)
    answer = api_client(admin_user).post(f"/api/v1/commands/{failed.pk}/resend/", {})
    assert answer.status_code == 201
    assert answer.json()["resend_of"] == failed.pk


def test_another_organisations_command_is_not_found(org, other_org, admin_user):
    command = services.send(None, meter_of(other_org), CommandAction.READ)
    client = api_client(admin_user)
    assert client.get(f"/api/v1/commands/{command.pk}/").status_code == 404
    assert client.post(f"/api/v1/commands/{command.pk}/resend/", {}).status_code == 404
