"""Another organisation's objects are 404 for every verb; lists show only the caller's objects."""

import pytest

from submeter.api.urls import router
from submeter.sites.models import Building
from submeter.tenancy.roles import Role
from tests.factories import (
    api_client,
    make_building,
    make_floor,
    make_gateway,
    make_meter,
    make_room,
    make_user,
)


@pytest.fixture
def mine(org):
    return make_building(org, name="Mine")


@pytest.fixture
def theirs(other_org):
    return make_building(other_org, name="Theirs")


@pytest.fixture
def client(org):
    return api_client(make_user(org))


def test_list_shows_only_own_organisation(client, mine, theirs):
    names = [b["name"] for b in client.get("/api/v1/buildings/").json()["results"]]

    assert names == ["Mine"]


@pytest.mark.parametrize("method", ["get", "patch", "put", "delete"])
def test_other_organisations_building_is_404_and_unchanged(client, theirs, method):
    answer = getattr(client, method)(
        f"/api/v1/buildings/{theirs.pk}/", {"name": "Hacked"}, format="json"
    )

    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"
    theirs.refresh_from_db()
    assert theirs.name == "Theirs"


def test_meters_list_of_one_organisation_token(org, other_org):
    make_meter(org, address="111111111111")
    make_meter(other_org, address="222222222222")
    client = api_client(make_user(org, Role.VIEWER))

    addresses = [m["address"] for m in client.get("/api/v1/meters/").json()["results"]]

    assert addresses == ["111111111111"]


def test_linking_to_another_organisations_room_is_refused(client, org, theirs):
    their_room = make_room(make_floor(theirs))

    answer = client.post(
        "/api/v1/meters/",
        {"address": "123", "kind": "electricity", "room": their_room.pk},
        format="json",
    )

    assert answer.status_code == 400
    assert "room" in answer.json()["error"]["fields"]


def test_creating_in_another_organisation_is_refused(client, other_org):
    answer = client.post(
        "/api/v1/buildings/", {"name": "X", "organisation": other_org.pk}, format="json"
    )

    assert answer.status_code == 400
    assert "organisation" in answer.json()["error"]["fields"]
    assert not Building.objects.filter(name="X").exists()


def test_organisation_cannot_be_moved_by_update(client, mine, other_org):
    answer = client.patch(
        f"/api/v1/buildings/{mine.pk}/",
        {"organisation": other_org.pk, "name": "Renamed"},
        format="json",
    )

    assert answer.status_code == 200
    mine.refresh_from_db()
    assert mine.organisation_id != other_org.pk
    assert mine.name == "Renamed"


def test_filter_by_other_organisation_answers_like_an_unknown_id(client, mine, theirs, other_org):
    theirs_answer = client.get(f"/api/v1/buildings/?organisation={other_org.pk}")
    unknown_answer = client.get("/api/v1/buildings/?organisation=999999")

    assert theirs_answer.status_code == unknown_answer.status_code == 400
    assert theirs_answer.json() == unknown_answer.json()


def test_filter_by_another_organisations_gateway_answers_like_an_unknown_id(client, org, other_org):
    their_gateway = make_gateway(other_org)
    make_meter(other_org, gateway=their_gateway)

    theirs_answer = client.get(f"/api/v1/meters/?gateway={their_gateway.pk}")
    unknown_answer = client.get("/api/v1/meters/?gateway=999999")

    assert theirs_answer.status_code == unknown_answer.status_code == 400
    assert theirs_answer.json() == unknown_answer.json()


def test_filter_by_own_gateway_lists_its_meters(client, org):
    gateway = make_gateway(org)
    make_meter(org, address="111111111111", gateway=gateway)
    make_meter(org, address="222222222222")

    answer = client.get(f"/api/v1/meters/?gateway={gateway.pk}")

    assert [m["address"] for m in answer.json()["results"]] == ["111111111111"]


@pytest.mark.parametrize("prefix", [prefix for prefix, _viewset, _name in router.registry])
def test_every_resource_filter_is_scoped(org, prefix):
    """ScopedFilterBackend refuses (TypeError) a relation filter it cannot scope."""
    assert api_client(make_user(org)).get(f"/api/v1/{prefix}/").status_code == 200


def test_maintenance_grant_opens_the_api_and_revoking_closes_it(org):
    from submeter.tenancy import services
    from tests.factories import make_organisation

    meter = make_meter(org, address="555555555555")
    maintainer = make_organisation("运维公司", code="maint")
    client = api_client(make_user(maintainer, Role.ADMINISTRATOR))
    assert client.get(f"/api/v1/meters/{meter.pk}/").status_code == 404

    grant = services.grant_access(make_user(org), org, "maint", Role.ELECTRICIAN)
    assert client.get(f"/api/v1/meters/{meter.pk}/").status_code == 200
    assert (
        client.patch(f"/api/v1/meters/{meter.pk}/", {"ct_ratio": "20"}, format="json").status_code
        == 200
    )
    refused = client.post(
        "/api/v1/buildings/", {"name": "X", "organisation": org.pk}, format="json"
    )
    assert refused.status_code == 400
    assert "organisation" in refused.json()["error"]["fields"]

    services.revoke_access(make_user(org), grant)
    assert client.get(f"/api/v1/meters/{meter.pk}/").status_code == 404
