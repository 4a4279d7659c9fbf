import io

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from submeter.console.admin_base import ScopedAdmin
from submeter.tenancy.roles import Role
from tests.factories import (
    make_building,
    make_gateway,
    make_meter,
    make_organisation,
    make_user,
)


def console_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_another_organisations_object_is_404_in_the_console(org, other_org, admin_user):
    theirs = make_building(other_org, name="Theirs")
    client = console_client(admin_user)

    assert client.get(f"/console/sites/building/{theirs.pk}/change/").status_code == 404
    assert (
        client.post(f"/console/sites/building/{theirs.pk}/delete/", {"post": "yes"}).status_code
        == 404
    )
    theirs.refresh_from_db()


def test_console_list_shows_only_the_current_organisation(org, other_org, admin_user):
    make_meter(org, address="111111111111")
    make_meter(other_org, address="999999999999")

    page = console_client(admin_user).get("/console/metering/meter/")

    assert b"111111111111" in page.content
    assert b"999999999999" not in page.content


def test_viewer_cannot_open_the_add_form_nor_change(org):
    building = make_building(org)
    client = console_client(make_user(org, Role.VIEWER))

    assert client.get("/console/sites/building/add/").status_code == 403
    page = client.post(
        f"/console/sites/building/{building.pk}/change/", {"name": "X", "organisation": org.pk}
    )
    assert page.status_code == 403
    building.refresh_from_db()
    assert building.name != "X"


def test_user_without_membership_cannot_enter_the_console(db):
    client = console_client(make_user(None))

    assert client.get("/console/").status_code == 302


def test_switching_organisation_changes_what_the_console_shows(db):
    group = make_organisation("Group")
    park_a = make_organisation("Park A", parent=group)
    park_b = make_organisation("Park B", parent=group)
    make_building(park_a, name="Building of A")
    make_building(park_b, name="Building of B")
    client = console_client(make_user(group))

    both = client.get("/console/sites/building/").content
    client.get(f"/console/switch-organisation/{park_a.pk}/")
    only_a = client.get("/console/sites/building/").content

    assert b"Building of A" in both and b"Building of B" in both
    assert b"Building of A" in only_a and b"Building of B" not in only_a


def test_switching_to_an_unseen_organisation_is_404(org, other_org, admin_user):
    assert (
        console_client(admin_user).get(f"/console/switch-organisation/{other_org.pk}/").status_code
        == 404
    )


CONSOLE_LISTS = sorted(admin.site._registry, key=lambda model: model._meta.label)


def test_every_console_list_is_scoped():
    unscoped = [
        model._meta.label
        for model, model_admin in admin.site._registry.items()
        if not isinstance(model_admin, ScopedAdmin)
    ]

    assert unscoped == []


@pytest.mark.parametrize("model", CONSOLE_LISTS, ids=lambda model: model._meta.label_lower)
def test_every_list_opens_and_exports_to_excel(org, admin_user, model):
    make_meter(org, address="111111111111")
    client = console_client(admin_user)
    path = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")

    assert client.get(path).status_code == 200
    export = client.get(path + "?_export=xlsx")
    assert export.status_code == 200
    sheet = load_workbook(io.BytesIO(export.content)).active
    assert sheet.max_row >= 1


def test_list_filters_offer_only_the_current_organisations_objects(org, other_org, admin_user):
    make_meter(org, gateway=make_gateway(org, name="Our gateway"))
    make_meter(other_org, gateway=make_gateway(other_org, name="Their gateway"))
    make_building(org, name="Our building")
    make_building(other_org, name="Their building")
    client = console_client(admin_user)

    meters = client.get("/console/metering/meter/").content.decode()
    buildings = client.get("/console/sites/building/").content.decode()

    assert "Our gateway" in meters and "Their gateway" not in meters
    assert other_org.name not in buildings


def test_export_follows_the_list_filters(org, admin_user):
    make_meter(org, address="111111111111", kind="electricity")
    make_meter(org, address="222222222222", kind="water")

    export = console_client(admin_user).get(
        "/console/metering/meter/?kind__exact=water&_export=xlsx"
    )

    sheet = load_workbook(io.BytesIO(export.content)).active
    addresses = [row[0].value for row in sheet.iter_rows(min_row=2)]
    assert addresses == ["222222222222"]


def test_dashboard_counts_rooms_tenants_and_meters(org, admin_user):
    from tests.factories import make_customer, make_room

    room = make_room(organisation=org, customer=make_customer(org))
    make_meter(org, room=room, online_state="online")
    make_meter(org, online_state="offline")

    page = console_client(admin_user).get("/console/")

    figures = page.context["figures"]
    assert (
        figures["rooms"],
        figures["tenants"],
        figures["meters_online"],
        figures["meters_offline"],
    ) == (1, 1, 1, 1)


def test_maintenance_company_sees_the_granting_park_in_the_console_until_revoked(org):
    from submeter.tenancy import services

    make_meter(org, address="555555555555")
    maintainer = make_organisation("运维公司", code="maint")
    technician = make_user(maintainer, Role.ADMINISTRATOR)
    client = console_client(technician)
    grant = services.grant_access(make_user(org), org, "maint", Role.ELECTRICIAN)

    client.get(f"/console/switch-organisation/{org.pk}/")
    assert b"555555555555" in client.get("/console/metering/meter/").content

    services.revoke_access(None, grant)
    assert b"555555555555" not in client.get("/console/metering/meter/").content


def test_grant_created_in_the_console_with_the_grantee_code(org, admin_user):
    from submeter.tenancy.models import AccessGrant

    make_organisation("运维公司", code="maint")
    client = console_client(admin_user)

    answer = client.post(
        "/console/tenancy/accessgrant/add/",
        {"organisation": org.pk, "grantee_code": "maint", "role": "electrician"},
    )

    assert answer.status_code == 302
    assert AccessGrant.objects.get().grantee.code == "maint"
    page = client.post(
        "/console/tenancy/accessgrant/add/",
        {"organisation": org.pk, "grantee_code": "nobody", "role": "viewer"},
    )
    assert page.status_code == 200
    assert AccessGrant.objects.count() == 1
