import copy
import io
import json
from pathlib import Path

import pytest
from django.test import Client
from openpyxl import load_workbook

from submeter.tariffs.models import Tariff
from submeter.tenancy.roles import Role
from tests.factories import make_user

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "sample-bill"
PREVIEW = "/console/tariffs/tariff/preview/"


@pytest.fixture
def sample_tariff() -> dict:
    return json.loads((SAMPLE / "tariff.json").read_text())


@pytest.fixture
def sample_usage_text() -> str:
    return (SAMPLE / "usage.json").read_text()


@pytest.fixture
def client(admin_user):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(admin_user)
    return client


def test_preview_rates_the_sample_bill(client, sample_tariff, sample_usage_text):
    page = client.post(PREVIEW, {"document": json.dumps(sample_tariff), "usage": sample_usage_text})

    assert page.status_code == 200
    assert page.context["bill"]["total"] == "19754.96"
    assert [line["label"] for line in page.context["lines"]][:2] == [
        "Energy, sharp peak",
        "Energy, peak",
    ]
    text = page.content.decode()
    assert "19754.96" in text and "2105.40" in text and "-149.28" in text


def test_preview_labels_follow_the_language(admin_user, sample_tariff, sample_usage_text):
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(admin_user)

    page = client.post(PREVIEW, {"document": json.dumps(sample_tariff), "usage": sample_usage_text})

    assert page.context["lines"][0]["label"] == "尖电费"


def test_preview_names_the_field_of_a_broken_tariff(client, sample_tariff, sample_usage_text):
    broken = copy.deepcopy(sample_tariff)
    broken["versions"][0]["energy"]["rates"]["sharp"]["price"] = 1.0606

    page = client.post(PREVIEW, {"document": json.dumps(broken), "usage": sample_usage_text})

    assert page.status_code == 200
    assert "bill" not in page.context
    assert page.context["source"] == "Tariff document"
    assert page.context["field"] == "versions[0].energy.rates.sharp.price"
    assert "versions[0].energy.rates.sharp.price" in page.content.decode()


def test_preview_names_the_field_of_a_usage_that_does_not_fit(client, sample_tariff):
    usage = {"period": {"start": "2017-07-01T00:00:00+08:00", "end": "2017-08-01T00:00:00+08:00"}}

    page = client.post(PREVIEW, {"document": json.dumps(sample_tariff), "usage": json.dumps(usage)})

    assert page.context["source"] == "Usage"
    assert page.context["message"]


def test_preview_says_where_the_json_is_broken(client, sample_usage_text):
    page = client.post(PREVIEW, {"document": '{\n  "id": "x",\n}', "usage": sample_usage_text})

    assert page.context["source"] == "Tariff document"
    assert page.context["field"] == "line 3, column 1"


def test_preview_only_answers_post(client):
    assert client.get(PREVIEW).status_code == 405


def test_add_form_starts_with_an_example_that_previews(client):
    page = client.get("/console/tariffs/tariff/add/")

    form = page.context["adminform"].form
    document = form["document"].value()
    assert '\n  "versions": [' in document
    usage = page.context["usage_text"]
    preview = client.post(PREVIEW, {"document": document, "usage": usage})
    assert preview.context["bill"]["total"]


def test_saving_a_good_document_creates_the_tariff(client, org, sample_tariff):
    answer = client.post(
        "/console/tariffs/tariff/add/",
        {
            "organisation": org.pk,
            "name": "Industrial",
            "utility": "electricity",
            "document": json.dumps(sample_tariff),
        },
    )

    assert answer.status_code == 302
    assert Tariff.objects.get().document == sample_tariff


def test_saving_a_broken_document_names_the_field_and_saves_nothing(client, org, sample_tariff):
    broken = copy.deepcopy(sample_tariff)
    broken["versions"][0]["energy"]["rates"]["sharp"]["price"] = "-1"

    page = client.post(
        "/console/tariffs/tariff/add/",
        {
            "organisation": org.pk,
            "name": "Industrial",
            "utility": "electricity",
            "document": json.dumps(broken),
        },
    )

    assert page.status_code == 200
    errors = page.context["adminform"].form.errors["document"]
    assert errors[0].startswith("versions[0].energy.rates.sharp.price: ")
    assert not Tariff.objects.exists()


def test_change_page_shows_the_document_indented_and_a_usage_for_its_utility(
    client, org, sample_tariff
):
    tariff = Tariff.objects.create(organisation=org, name="T", document=sample_tariff)

    page = client.get(f"/console/tariffs/tariff/{tariff.pk}/change/")

    text = page.content.decode()
    assert "\n  &quot;id&quot;: &quot;sample-industrial-10kv&quot;" in text
    assert "energy_kwh" in page.context["usage_text"]
    assert PREVIEW in text


def test_viewer_reads_and_previews_but_cannot_change(org, sample_tariff, sample_usage_text):
    tariff = Tariff.objects.create(organisation=org, name="T", document=sample_tariff)
    viewer = Client(HTTP_ACCEPT_LANGUAGE="en")
    viewer.force_login(make_user(org, Role.VIEWER))

    page = viewer.get(f"/console/tariffs/tariff/{tariff.pk}/change/")
    preview = viewer.post(
        PREVIEW, {"document": json.dumps(sample_tariff), "usage": sample_usage_text}
    )

    assert page.status_code == 200
    assert page.context["read_only_document"].startswith("{\n")
    assert preview.context["bill"]["total"] == "19754.96"
    assert viewer.get("/console/tariffs/tariff/add/").status_code == 403


def test_tariff_list_is_scoped_and_exports(client, org, other_org, sample_tariff):
    Tariff.objects.create(organisation=org, name="Ours", document=sample_tariff)
    Tariff.objects.create(organisation=other_org, name="Theirs", document=sample_tariff)

    listing = client.get("/console/tariffs/tariff/")
    exported = client.get("/console/tariffs/tariff/", {"_export": "xlsx"})

    assert listing.context["cl"].result_count == 1
    sheet = load_workbook(io.BytesIO(exported.content)).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)]
    assert [(row[0], row[1], row[2]) for row in rows] == [("Ours", "Electricity", "2017-01-01")]
