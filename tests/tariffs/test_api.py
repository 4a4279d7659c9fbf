import json
from pathlib import Path

import pytest

from submeter.tenancy.roles import Role
from tests.factories import api_client, make_user

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "sample-bill"


@pytest.fixture
def tariff_document():
    return json.loads((SAMPLE / "tariff.json").read_text())


@pytest.fixture
def usage_document():
    return json.loads((SAMPLE / "usage.json").read_text())


def test_store_a_tariff_and_quote_the_sample_bill(org, admin_user, tariff_document, usage_document):
    client = api_client(admin_user)
    created = client.post(
        "/api/v1/tariffs/",
        {"name": "大工业", "utility": "electricity", "document": tariff_document},
        format="json",
    )
    assert created.status_code == 201, created.json()

    quote = client.post(
        f"/api/v1/tariffs/{created.json()['id']}/quote/", usage_document, format="json"
    )

    assert quote.status_code == 200
    assert quote.json()["total"] == "19754.96"
    assert [line["amount"] for line in quote.json()["lines"]] == [
        "2105.40",
        "2981.54",
        "425.75",
        "2391.55",
        "12000.00",
        "-149.28",
    ]


def test_invalid_tariff_is_refused_naming_the_field(org, admin_user, tariff_document):
    tariff_document["versions"][0]["energy"]["day_profiles"]["everyday"][0]["rate"] = "super-peak"

    answer = api_client(admin_user).post(
        "/api/v1/tariffs/",
        {"name": "x", "utility": "electricity", "document": tariff_document},
        format="json",
    )

    assert answer.status_code == 400
    assert "document" in answer.json()["error"]["fields"]
    assert "versions[0]" in answer.json()["error"]["fields"]["document"][0]


def test_bad_usage_in_quote_is_400_naming_the_field(
    org, admin_user, tariff_document, usage_document
):
    client = api_client(admin_user)
    tariff = client.post(
        "/api/v1/tariffs/",
        {"name": "t", "utility": "electricity", "document": tariff_document},
        format="json",
    ).json()
    usage_document["energy_kwh"]["peak"] = "-5"

    answer = client.post(f"/api/v1/tariffs/{tariff['id']}/quote/", usage_document, format="json")

    assert answer.status_code == 400
    assert answer.json()["error"]["fields"]


def test_viewer_can_quote_but_not_edit(org, admin_user, tariff_document, usage_document):
    tariff = (
        api_client(admin_user)
        .post(
            "/api/v1/tariffs/",
            {"name": "t", "utility": "electricity", "document": tariff_document},
            format="json",
        )
        .json()
    )
    viewer = api_client(make_user(org, Role.VIEWER))

    assert (
        viewer.post(
            f"/api/v1/tariffs/{tariff['id']}/quote/", usage_document, format="json"
        ).status_code
        == 200
    )
    assert (
        viewer.patch(f"/api/v1/tariffs/{tariff['id']}/", {"name": "y"}, format="json").status_code
        == 403
    )
