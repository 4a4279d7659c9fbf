import pytest

from submeter.tenancy.roles import Role
from tests.factories import api_client, make_building, make_meter, make_user


def test_viewer_can_read_but_not_write(org):
    building = make_building(org, name="A栋")
    client = api_client(make_user(org, Role.VIEWER))

    assert client.get(f"/api/v1/buildings/{building.pk}/").status_code == 200
    answer = client.patch(f"/api/v1/buildings/{building.pk}/", {"name": "B栋"}, format="json")
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "permission_denied"
    assert client.post("/api/v1/buildings/", {"name": "C栋"}, format="json").status_code == 403
    building.refresh_from_db()
    assert building.name == "A栋"


def test_electrician_changes_meters_but_not_buildings(org):
    meter = make_meter(org, address="100")
    client = api_client(make_user(org, Role.ELECTRICIAN))

    assert (
        client.patch(f"/api/v1/meters/{meter.pk}/", {"ct_ratio": "50"}, format="json").status_code
        == 200
    )
    assert client.post("/api/v1/buildings/", {"name": "X"}, format="json").status_code == 403


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.ADMINISTRATOR, 201),
        (Role.OPERATOR, 201),
        (Role.FINANCE, 201),
        (Role.ELECTRICIAN, 403),
        (Role.VIEWER, 403),
    ],
)
def test_who_may_create_customers(org, role, status):
    client = api_client(make_user(org, role))

    assert (
        client.post("/api/v1/customers/", {"name": "王氏商贸"}, format="json").status_code == status
    )
