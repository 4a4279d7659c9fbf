"""The command services without a network: refusals, limits, expiry, the two-step cut-off,
batches, timed controls, resend and cancel. (Dispatch runs at commit, which these tests never
reach: each runs inside one rolled-back transaction.)"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django.utils.translation import gettext

from submeter.control import services
from submeter.control.models import (
    Command,
    CommandAction,
    CommandBatch,
    CommandState,
    ControlSchedule,
    ControlSettings,
    PrepaidPolicy,
)
from submeter.control.tasks import run_due
from submeter.errors import ServiceError
from submeter.metering.models import OnlineState
from submeter.tenancy.models import AuditEntry, Membership
from tests.factories import (
    make_building,
    make_customer,
    make_floor,
    make_gateway,
    make_meter,
    make_organisation,
    make_room,
    make_user,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def gateway(org):
    return make_gateway(org, serial="gw-1")


@pytest.fixture
def meter(org, gateway):
    return make_meter(org, gateway=gateway)


def protect(meter):
    customer = make_customer(meter.organisation)
    meter.customer = customer
    meter.save()
    PrepaidPolicy.objects.create(organisation=meter.organisation, customer=customer, protected=True)


def limits(org, **fields):
    ControlSettings.objects.update_or_create(organisation=org, defaults=fields)


def test_a_command_is_recorded_with_who_and_why(meter, admin_user):
    command = services.send(admin_user, meter, CommandAction.CLOSE, reason="tenant asked")
    assert command.state == CommandState.QUEUED
    assert command.requested_by == admin_user
    assert command.cause["actor"] == admin_user.username
    assert AuditEntry.objects.filter(action="command.send", object_id=str(command.pk)).exists()


def test_the_same_decision_key_gives_one_command(meter):
    first = services.send(None, meter, CommandAction.TRIP, decision_key="policy:1:cut:7")
    second = services.send(None, meter, CommandAction.TRIP, decision_key="policy:1:cut:7")
    assert second.pk == first.pk
    assert Command.objects.filter(meter=meter).count() == 1


def test_a_protected_meter_is_never_tripped(meter):
    protect(meter)
    with pytest.raises(ServiceError) as refused:
        services.send(None, meter, CommandAction.TRIP, reason="arrears")
    assert refused.value.code == "protected"
    assert not Command.objects.filter(meter=meter).exists()


def test_over_the_per_meter_limit_an_automatic_command_is_recorded_failed(org, meter):
    limits(org, relay_actions_per_meter_per_hour=2)
    services.send(None, meter, CommandAction.TRIP)
    services.send(None, meter, CommandAction.CLOSE)
    third = services.send(None, meter, CommandAction.TRIP)
    assert third.state == CommandState.FAILED
    assert third.error_code == "rate_limited"


def test_over_the_per_meter_limit_a_person_is_refused(org, meter, admin_user):
    limits(org, relay_actions_per_meter_per_hour=1)
    services.send(None, meter, CommandAction.TRIP)
    with pytest.raises(ServiceError) as refused:
        services.send(admin_user, meter, CommandAction.CLOSE, reason="manual")
    assert refused.value.code == "rate_limited"
    assert refused.value.status == 429
    assert Command.objects.filter(meter=meter).count() == 1


def test_over_the_per_organisation_limit_relay_commands_are_refused(org, gateway):
    limits(org, relay_actions_per_org_per_minute=2)
    meters = [make_meter(org, gateway=gateway) for _ in range(3)]
    states = [services.send(None, meter, CommandAction.TRIP).state for meter in meters]
    assert states == [CommandState.QUEUED, CommandState.QUEUED, CommandState.FAILED]


def test_a_read_is_not_rate_limited(org, meter):
    limits(org, relay_actions_per_meter_per_hour=0)
    assert services.send(None, meter, CommandAction.READ).state == CommandState.QUEUED


def test_a_command_to_an_offline_meter_waits_then_expires(org, meter):
    meter.online_state = OnlineState.OFFLINE
    meter.save()
    command = services.send(None, meter, CommandAction.TRIP, reason="arrears")
    assert command.state == CommandState.QUEUED
    assert command.error_code == "meter_offline"
    assert run_due(timezone.now() + timedelta(minutes=5)) == {}
    assert run_due(timezone.now() + timedelta(minutes=61)) == {"expired": 1}
    command.refresh_from_db()
    assert command.state == CommandState.EXPIRED
    assert command.error == gettext("The meter stayed offline until the command expired.")


def test_a_meter_without_a_gateway_cannot_be_commanded(org, admin_user):
    meter = make_meter(org)
    with pytest.raises(ServiceError) as refused:
        services.send(admin_user, meter, CommandAction.TRIP, reason="x")
    assert refused.value.code == "no_gateway"


# --- two-step cut-off ----------------------------------------------------------------------


def test_an_armed_cut_off_is_sent_once_confirmed(meter, admin_user):
    token = services.arm_cutoff(admin_user, meter)
    assert not Command.objects.filter(meter=meter).exists()
    command = services.confirm_cutoff(admin_user, token, reason="tampering")
    assert command.action == CommandAction.TRIP
    assert command.cause["rule"] == "manual_cutoff"


def test_a_confirmed_cut_off_cannot_be_replayed(meter, admin_user):
    token = services.arm_cutoff(admin_user, meter)
    services.confirm_cutoff(admin_user, token, reason="tampering")
    with pytest.raises(ServiceError) as refused:
        services.confirm_cutoff(admin_user, token, reason="again")
    assert refused.value.code == "token_used"
    assert Command.objects.filter(meter=meter).count() == 1


def test_an_armed_cut_off_expires_after_five_minutes(meter, admin_user):
    token = services.arm_cutoff(admin_user, meter)
    later = timezone.now() + timedelta(minutes=5, seconds=1)
    with pytest.raises(ServiceError) as refused:
        services.confirm_cutoff(admin_user, token, reason="late", now=later)
    assert refused.value.code == "token_expired"
    assert not Command.objects.filter(meter=meter).exists()


def test_another_operator_cannot_confirm_a_cut_off(org, meter, admin_user):
    token = services.arm_cutoff(admin_user, meter)
    other = make_user(org)
    with pytest.raises(ServiceError) as refused:
        services.confirm_cutoff(other, token, reason="not mine")
    assert refused.value.code == "token_other_user"


def test_a_cut_off_cannot_be_confirmed_without_control_of_its_organisation(org, meter, admin_user):
    token = services.arm_cutoff(admin_user, meter)
    Membership.objects.filter(user=admin_user, organisation=org).update(is_active=False)
    make_user(make_organisation(), username="elsewhere")
    Membership.objects.create(user=admin_user, organisation=make_organisation(), role="admin")
    with pytest.raises(ServiceError) as refused:
        services.confirm_cutoff(admin_user, token, reason="moved")
    assert refused.value.code == "not_found"


def test_a_tampered_cut_off_token_is_refused(meter, admin_user):
    token = services.arm_cutoff(admin_user, meter)
    with pytest.raises(ServiceError) as refused:
        services.confirm_cutoff(admin_user, token[:-2] + "xx", reason="x")
    assert refused.value.code == "token_invalid"


def test_a_protected_meter_cannot_be_armed(meter, admin_user):
    protect(meter)
    with pytest.raises(ServiceError) as refused:
        services.arm_cutoff(admin_user, meter)
    assert refused.value.code == "protected"


# --- batches and timed controls ------------------------------------------------------------


@pytest.fixture
def two_buildings(org, gateway):
    rooms = [make_room(make_floor(make_building(org))) for _ in range(2)]
    return [
        [make_meter(org, gateway=gateway, room=room) for _ in range(count)]
        for room, count in zip(rooms, (3, 2), strict=True)
    ]


def test_a_batch_now_sends_to_each_filtered_meter(org, admin_user, two_buildings):
    first = two_buildings[0]
    building = first[0].room.floor.building_id
    batch = services.create_batch(
        admin_user, org, CommandAction.CLOSE, {"building": building}, reason="maintenance over"
    )
    assert batch.meter_count == 3
    assert set(batch.commands.values_list("meter_id", flat=True)) == {m.pk for m in first}


def test_a_batch_at_a_time_runs_when_due(org, admin_user, two_buildings):
    later = timezone.now() + timedelta(hours=2)
    batch = services.create_batch(
        admin_user, org, CommandAction.CLOSE, {}, run_at=later, reason="after works"
    )
    assert not batch.commands.exists()
    assert run_due(later - timedelta(minutes=1)) == {}
    assert run_due(later)["batches"] == 1
    assert batch.commands.count() == 5
    assert run_due(later + timedelta(minutes=1)) == {}
    assert batch.commands.count() == 5


def test_a_batch_cut_off_must_be_confirmed(org, admin_user, two_buildings):
    with pytest.raises(ServiceError) as refused:
        services.create_batch(admin_user, org, CommandAction.TRIP, {}, reason="lights out")
    assert refused.value.code == "confirmation_required"
    assert not CommandBatch.objects.exists()


def test_a_batch_cut_off_leaves_protected_meters_out(org, admin_user, two_buildings):
    protected = two_buildings[0][0]
    protect(protected)
    batch = services.create_batch(
        admin_user, org, CommandAction.TRIP, {}, reason="lights out", confirm=True
    )
    assert batch.meter_count == 4
    assert batch.skipped_count == 1
    assert not Command.objects.filter(meter=protected).exists()


def test_a_batch_restore_leaves_customers_in_arrears_off(org, admin_user, two_buildings):
    meter = two_buildings[1][0]
    customer = make_customer(org)
    meter.customer = customer
    meter.save()
    PrepaidPolicy.objects.create(organisation=org, customer=customer, in_arrears=True)
    batch = services.create_batch(admin_user, org, CommandAction.CLOSE, {}, reason="morning")
    assert batch.skipped_count == 1
    assert not Command.objects.filter(meter=meter).exists()


def test_an_unknown_meter_filter_is_refused(org, admin_user, two_buildings):
    with pytest.raises(ServiceError) as refused:
        services.create_batch(admin_user, org, CommandAction.CLOSE, {"colour": "red"}, reason="x")
    assert refused.value.code == "invalid"


def test_a_timed_control_runs_once_on_each_of_its_days(org, two_buildings):
    schedule = ControlSchedule.objects.create(
        organisation=org,
        name="Lights out",
        action=CommandAction.TRIP,
        time_of_day=time(23, 30),
        weekdays=[1, 2, 3, 4, 5],
    )
    monday = datetime(2026, 11, 23, 23, 31, tzinfo=SHANGHAI)
    assert run_due(monday - timedelta(minutes=2)).get("schedules") is None
    assert run_due(monday)["schedules"] == 1
    assert run_due(monday + timedelta(minutes=10)).get("schedules") is None
    assert run_due(monday + timedelta(days=1))["schedules"] == 1
    saturday = monday + timedelta(days=5)
    assert run_due(saturday).get("schedules") is None
    assert schedule.batches.count() == 2
    assert schedule.batches.first().commands.count() == 5


def test_a_timed_control_missed_by_more_than_an_hour_waits_for_its_next_day(org, two_buildings):
    ControlSchedule.objects.create(
        organisation=org, name="Morning", action=CommandAction.CLOSE, time_of_day=time(6, 30)
    )
    noon = datetime(2026, 11, 23, 12, 0, tzinfo=SHANGHAI)
    assert run_due(noon).get("schedules") is None


# --- resend and cancel ------------------------------------------------------------------------


def test_a_failed_command_is_resent_as_a_new_linked_command(org, meter, admin_user):
    limits(org, relay_actions_per_meter_per_hour=1)
    first = services.send(None, meter, CommandAction.TRIP)
    refused = services.send(None, meter, CommandAction.CLOSE)
    assert refused.state == CommandState.FAILED
    services.cancel(admin_user, first)  # a cancelled command no longer counts
    again = services.resend(admin_user, refused)
    assert again.resend_of_id == refused.pk
    assert again.state == CommandState.QUEUED
    assert again.command_id != refused.command_id


def test_an_acknowledged_command_cannot_be_resent(meter, admin_user):
    command = services.send(None, meter, CommandAction.READ)
    Command.objects.filter(pk=command.pk).update(state=CommandState.ACKNOWLEDGED)
    with pytest.raises(ServiceError) as refused:
        services.resend(admin_user, command)
    assert refused.value.code == "not_resendable"


def test_a_cancelled_command_is_not_retried(meter, admin_user):
    command = services.send(None, meter, CommandAction.TRIP)
    services.cancel(admin_user, command)
    command.refresh_from_db()
    assert command.state == CommandState.CANCELLED
    assert run_due(timezone.now() + timedelta(hours=2)) == {}
    assert AuditEntry.objects.filter(action="command.cancelled", actor=admin_user).exists()
