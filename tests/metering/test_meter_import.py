import io

import pytest
from openpyxl import Workbook, load_workbook

from submeter.metering.meter_import import COLUMN_KEYS, ImportFileError, template_bytes
from submeter.metering.models import Meter
from submeter.metering.services import import_meters
from submeter.tenancy.models import AuditEntry
from tests.factories import (
    make_building,
    make_customer,
    make_floor,
    make_gateway,
    make_meter,
    make_room,
)


def workbook(rows, header=None):
    book = Workbook()
    sheet = book.active
    sheet.append(header or [f"x ({key})" for key in COLUMN_KEYS])
    for row in rows:
        sheet.append([row.get(key, "") for key in COLUMN_KEYS])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def site(org):
    building = make_building(org, name="A栋")
    floor = make_floor(building, 1)
    customer = make_customer(org, name="王氏商贸", phone="13900000001")
    room = make_room(floor, number="101", customer=customer)
    gateway = make_gateway(org, name="A栋网关", serial="GW-01")
    return {"room": room, "customer": customer, "gateway": gateway}


def test_good_rows_are_all_imported_with_their_links(org, admin_user, site):
    content = workbook(
        [
            {
                "address": "100000000001",
                "kind": "electricity",
                "phases": 3,
                "ct_ratio": "50",
                "gateway": "GW-01",
                "building": "A栋",
                "floor": 1,
                "room": "101",
            },
            {"address": "100000000002", "kind": "water", "customer": "13900000001"},
        ]
    )

    report = import_meters(admin_user, org, content)

    assert report.ok
    first = Meter.objects.get(address="100000000001")
    assert (first.phases, str(first.ct_ratio), first.gateway, first.room, first.customer) == (
        3,
        "50.00",
        site["gateway"],
        site["room"],
        site["customer"],
    )
    assert Meter.objects.get(address="100000000002").kind == "water"
    assert AuditEntry.objects.filter(action="meter.import", actor=admin_user).exists()


def test_one_bad_row_imports_nothing_and_names_row_and_cell(org, admin_user, site):
    content = workbook(
        [
            {"address": "100000000001", "kind": "electricity"},
            {"address": "100000000002", "kind": "steam", "ct_ratio": "-1"},
            {
                "address": "100000000003",
                "kind": "water",
                "building": "A栋",
                "floor": 1,
                "room": "999",
            },
        ]
    )

    report = import_meters(admin_user, org, content)

    assert not report.ok
    assert {(e.row, e.column) for e in report.errors} == {(3, "kind"), (3, "ct_ratio"), (4, "room")}
    assert Meter.objects.count() == 0


def test_duplicate_addresses_in_file_and_database_are_errors(org, admin_user):
    make_meter(org, address="100000000009")
    content = workbook(
        [
            {"address": "100000000009", "kind": "electricity"},
            {"address": "100000000010", "kind": "electricity"},
            {"address": "100000000010", "kind": "electricity"},
        ]
    )

    report = import_meters(admin_user, org, content)

    assert [(e.row, e.column) for e in report.errors] == [(2, "address"), (4, "address")]
    assert Meter.objects.count() == 1


def test_another_organisations_gateway_is_not_found(org, other_org, admin_user):
    make_gateway(other_org, serial="GW-THEIRS")

    report = import_meters(
        admin_user, org, workbook([{"address": "1", "kind": "electricity", "gateway": "GW-THEIRS"}])
    )

    assert [(e.row, e.column) for e in report.errors] == [(2, "gateway")]


def test_a_file_that_is_not_excel_is_refused(org, admin_user):
    with pytest.raises(ImportFileError):
        import_meters(admin_user, org, b"address,kind\n1,electricity\n")


def test_an_excel_file_of_another_kind_is_refused(org, admin_user):
    with pytest.raises(ImportFileError):
        import_meters(admin_user, org, workbook([], header=["name", "amount"]))


def test_the_downloaded_template_imports_as_it_is(org, admin_user):
    report = import_meters(admin_user, org, template_bytes())

    assert report.ok
    assert Meter.objects.get().address == "123456789012"


def test_template_headers_carry_the_column_keys(db):
    sheet = load_workbook(io.BytesIO(template_bytes())).active

    headers = [cell.value for cell in sheet[1]]

    assert [h.rsplit("(", 1)[1].rstrip(")") for h in headers] == COLUMN_KEYS
