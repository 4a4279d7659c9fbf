"""The console screens of control: lists open and export, the failed preset, resend, batches."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from openpyxl import load_workbook

from submeter.control import services
from submeter.control.models import Command, CommandAction, CommandBatch, CommandState
from tests.factories import make_gateway, make_meter


def console_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def meter(org):
    return make_meter(org, gateway=make_gateway(org))


@pytest.mark.parametrize(
    "path",
    [
        "/console/control/command/",
        "/console/control/commandbatch/",
        "/console/control/controlschedule/",
        "/console/control/controlsettings/",
        "/console/control/quietday/",
    ],
)
def test_every_control_list_opens_and_exports_to_excel(org, admin_user, meter, path):
    services.send(None, meter, CommandAction.READ)
    client = console_client(admin_user)
    assert client.get(path).status_code == 200
    export = client.get(path + "?_export=xlsx")
    assert export.status_code == 200
    assert load_workbook(io.BytesIO(export.content)).active.max_row >= 1


def test_the_failed_preset_lists_only_commands_needing_attention(org, admin_user, meter):
    services.send(None, meter, CommandAction.READ, reason="fine")
    failed = services.send(None, meter, CommandAction.READ, reason="lost")
    Command.objects.filter(pk=failed.pk).update(state=CommandState.UNKNOWN)
    export = console_client(admin_user).get(
        "/console/control/command/?attention=failed&_export=xlsx"
    )
    rows = list(load_workbook(io.BytesIO(export.content)).active.iter_rows(min_row=2))
    assert len(rows) == 1


def test_the_resend_action_sends_failed_commands_again(org, admin_user, meter):
    failed = services.send(None, meter, CommandAction.READ)
    Command.objects.filter(pk=failed.pk).update(state=CommandState.FAILED)
    answer = console_client(admin_user).post(
        "/console/control/command/",
        {"action": "resend_selected", "_selected_action": [failed.pk]},
    )
    assert answer.status_code == 302
    assert Command.objects.filter(resend_of=failed).count() == 1


def test_a_batch_is_created_from_the_console(org, admin_user, meter):
    answer = console_client(admin_user).post(
        "/console/control/commandbatch/add/",
        {
            "organisation": org.pk,
            "action": CommandAction.CLOSE,
            "params": "{}",
            "run_at_0": "2026-11-23",
            "run_at_1": "08:00:00",
            "reason": "maintenance over",
            "kind": "electricity",
        },
    )
    assert answer.status_code == 302, answer.content[:2000]
    batch = CommandBatch.objects.get()
    assert batch.commands.count() == 1


def test_a_batch_cut_off_without_confirmation_is_refused_in_the_console(org, admin_user, meter):
    answer = console_client(admin_user).post(
        "/console/control/commandbatch/add/",
        {
            "organisation": org.pk,
            "action": CommandAction.TRIP,
            "params": "{}",
            "run_at_0": "2026-11-23",
            "run_at_1": "08:00:00",
            "reason": "lights out",
        },
    )
    assert answer.status_code == 200
    assert not CommandBatch.objects.exists()
