import pytest
from django.test import Client

from submeter.errors import ServiceError
from submeter.tenancy.services import save_record
from tests.factories import make_organisation, make_user


def organisation_form(organisation, **changes) -> dict:
    return {
        "name": organisation.name,
        "code": organisation.code,
        "time_zone": organisation.time_zone,
        "topup_fee_percent": "0",
        "is_active": "on",
        **changes,
    }


def test_organisation_cannot_be_placed_under_its_own_sub_organisation(db):
    group = make_organisation("Group")
    park = make_organisation("Park", parent=group)
    building_co = make_organisation("Building company", parent=park)

    park.parent = building_co
    with pytest.raises(ServiceError) as error:
        save_record(make_user(group), park)

    assert "parent" in error.value.fields
    park.refresh_from_db()
    assert park.parent == group


def test_organisation_cannot_be_its_own_parent(db):
    group = make_organisation("Group")
    park = make_organisation("Park", parent=group)

    park.parent = park
    with pytest.raises(ServiceError):
        save_record(make_user(group), park)

    park.refresh_from_db()
    assert park.parent == group


def test_park_administrator_edits_the_park_but_cannot_move_it_out_of_the_group(db):
    group = make_organisation("Group")
    park = make_organisation("Park", parent=group)
    sub_park = make_organisation("Sub-park", parent=park)
    client = Client()
    client.force_login(make_user(park))

    answer = client.post(
        f"/console/tenancy/organisation/{park.pk}/change/",
        organisation_form(park, name="Park renamed", parent=sub_park.pk),
    )

    assert answer.status_code == 302
    park.refresh_from_db()
    assert (park.name, park.parent) == ("Park renamed", group)
