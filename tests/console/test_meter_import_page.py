import io

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from openpyxl import Workbook

from submeter.metering.models import Meter


def upload(client, org, content, name="meters.xlsx"):
    return client.post(
        "/console/metering/meter/import/",
        {"organisation": org.pk, "file": SimpleUploadedFile(name, content)},
        HTTP_ACCEPT_LANGUAGE="en",
    )


def sheet_bytes(rows):
    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_template_downloads(admin_user):
    client = Client()
    client.force_login(admin_user)

    answer = client.get("/console/metering/meter/import/template.xlsx")

    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("application/vnd.openxmlformats")


def test_bad_rows_are_listed_by_row_and_column_and_nothing_imported(org, admin_user):
    client = Client()
    client.force_login(admin_user)
    content = sheet_bytes([["address", "kind"], ["100", "electricity"], ["101", "plasma"]])

    page = upload(client, org, content)

    assert page.status_code == 200
    errors = page.context["errors"]
    assert [(e["row"], e["column"]) for e in errors] == [(3, "kind")]
    assert Meter.objects.count() == 0


def test_wrong_kind_of_file_gets_a_clear_message(org, admin_user):
    client = Client()
    client.force_login(admin_user)

    page = upload(client, org, b"%PDF-1.4 not a spreadsheet", name="meters.pdf")

    assert page.context["file_error"] == "This is not an Excel (.xlsx) file."


def test_good_file_imports_and_returns_to_the_list(org, admin_user):
    client = Client()
    client.force_login(admin_user)

    answer = upload(
        client, org, sheet_bytes([["address", "kind"], ["100", "electricity"], ["101", "water"]])
    )

    assert answer.status_code == 302
    assert Meter.objects.count() == 2
