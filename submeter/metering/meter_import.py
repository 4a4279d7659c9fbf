"""The meter import template and the reading of a filled-in template.

Every row is validated; errors name the row and the cell. Nothing is imported when any row is bad.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.datavalidation import DataValidation

from submeter.customers.models import Customer
from submeter.metering.models import Gateway, Meter, MeterKind
from submeter.sites.models import Room

COLUMNS: list[tuple[str, Any, bool]] = [
    # key, label, required
    ("address", gettext_lazy("communication address"), True),
    ("kind", gettext_lazy("kind"), True),
    ("phases", gettext_lazy("phases"), False),
    ("serial", gettext_lazy("serial number"), False),
    ("model", gettext_lazy("model"), False),
    ("ct_ratio", gettext_lazy("CT ratio"), False),
    ("rated_power_kw", gettext_lazy("rated power (kW)"), False),
    ("gateway", gettext_lazy("gateway"), False),
    ("building", gettext_lazy("building"), False),
    ("floor", gettext_lazy("floor level"), False),
    ("room", gettext_lazy("room number"), False),
    ("customer", gettext_lazy("customer"), False),
]
COLUMN_KEYS = [key for key, _label, _required in COLUMNS]
MAX_ROWS = 20000


@dataclass(frozen=True)
class CellError:
    row: int
    column: str
    message: str


@dataclass
class ImportReport:
    rows: int = 0
    errors: list[CellError] = field(default_factory=list)
    meters: list[Meter] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class ImportFileError(Exception):
    """The file is not a meter template at all (wrong kind of file, no header)."""


def header(key: str, label: Any) -> str:
    return f"{label} ({key})"


def template_bytes() -> bytes:
    """The .xlsx template offered for download, headers in the user's language plus the key."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _("meters")
    sheet.append([header(key, label) for key, label, _required in COLUMNS])
    sheet.append(["123456789012", "electricity", 1, "", "DDSY1352", "1", "10", "", "", "", "", ""])
    kinds = DataValidation(type="list", formula1='"electricity,water,gas"', allow_blank=False)
    sheet.add_data_validation(kinds)
    kinds.add("B2:B20000")
    for i, (key, label, required) in enumerate(COLUMNS):
        sheet.cell(row=1, column=i + 1).font = Font(bold=required)
        sheet.column_dimensions[chr(ord("A") + i)].width = max(14, len(header(key, label)) + 4)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


_KEY_IN_HEADER = re.compile(r"\(([a-z_]+)\)\s*$")


def _column_key(text: Any) -> str | None:
    if text is None:
        return None
    text = str(text).strip()
    match = _KEY_IN_HEADER.search(text)
    if match and match.group(1) in COLUMN_KEYS:
        return match.group(1)
    if text in COLUMN_KEYS:
        return text
    for key, label, _required in COLUMNS:
        if text == str(label):
            return key
    return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _kind(value: str) -> str | None:
    lowered = value.lower()
    for choice, label in MeterKind.choices:
        if lowered in {choice, str(label).lower()}:
            return choice
    return None


def _decimal(value: str) -> Decimal | None:
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def read_rows(content: bytes) -> list[tuple[int, dict[str, str]]]:
    """Rows of the first sheet as {column key: text}, numbered as Excel numbers them."""
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ImportFileError(_("This is not an Excel (.xlsx) file.")) from exc
    sheet = workbook.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    try:
        first = next(rows)
    except StopIteration as exc:
        raise ImportFileError(_("The file is empty.")) from exc
    keys = [_column_key(cell) for cell in first]
    missing = [str(label) for key, label, required in COLUMNS if required and key not in keys]
    if missing:
        raise ImportFileError(
            _("This is not the meter template: missing columns %(columns)s.")
            % {"columns": ", ".join(missing)}
        )
    result = []
    for number, values in enumerate(rows, start=2):
        data = {key: _text(value) for key, value in zip(keys, values, strict=False) if key}
        if not any(data.values()):
            continue
        result.append((number, data))
        if len(result) > MAX_ROWS:
            raise ImportFileError(_("Too many rows (at most %(max)d).") % {"max": MAX_ROWS})
    workbook.close()
    return result


def validate_rows(organisation, rows: list[tuple[int, dict[str, str]]]) -> ImportReport:
    """Build unsaved meters from rows, collecting every error by row and cell."""
    report = ImportReport(rows=len(rows))
    existing = set(
        Meter.objects.filter(organisation=organisation).values_list("address", flat=True)
    )
    gateways: dict[str, Gateway] = {}
    for gateway in Gateway.objects.filter(organisation=organisation):
        gateways[gateway.name] = gateway
        gateways[gateway.serial] = gateway
    rooms = {
        (room.floor.building.name, str(room.floor.level), room.number): room
        for room in Room.objects.filter(organisation=organisation).select_related("floor__building")
    }
    customers: dict[str, list[Customer]] = {}
    for customer in Customer.objects.filter(organisation=organisation):
        customers.setdefault(customer.name, []).append(customer)
        if customer.phone:
            customers.setdefault(customer.phone, []).append(customer)
    seen: dict[str, int] = {}

    for number, data in rows:

        def error(column: str, message: str, number: int = number) -> None:
            report.errors.append(CellError(number, column, message))

        meter = Meter(organisation=organisation)
        address = data.get("address", "")
        if not address:
            error("address", _("Required."))
        elif len(address) > 32:
            error("address", _("At most 32 characters."))
        elif address in existing:
            error("address", _("A meter with this address already exists."))
        elif address in seen:
            error("address", _("Duplicate of row %(row)d.") % {"row": seen[address]})
        else:
            seen[address] = number
        meter.address = address

        kind = _kind(data.get("kind", ""))
        if kind is None:
            error("kind", _("Must be one of electricity, water, gas."))
        else:
            meter.kind = kind

        phases = data.get("phases", "") or "1"
        if phases not in {"1", "3"}:
            error("phases", _("Must be 1 or 3."))
        else:
            meter.phases = int(phases)

        meter.serial = data.get("serial", "")[:64]
        meter.model = data.get("model", "")[:64]

        ct_ratio = _decimal(data.get("ct_ratio", "") or "1")
        if ct_ratio is None or ct_ratio <= 0:
            error("ct_ratio", _("Must be a positive number."))
        else:
            meter.ct_ratio = ct_ratio

        if data.get("rated_power_kw"):
            power = _decimal(data["rated_power_kw"])
            if power is None or power < 0:
                error("rated_power_kw", _("Must be a number not below zero."))
            else:
                meter.rated_power_kw = power

        if data.get("gateway"):
            gateway = gateways.get(data["gateway"])
            if gateway is None:
                error("gateway", _("No gateway with this name or id."))
            else:
                meter.gateway = gateway

        place = (data.get("building", ""), data.get("floor", ""), data.get("room", ""))
        if any(place):
            room = rooms.get(place)
            if not all(place):
                for column, value in zip(("building", "floor", "room"), place, strict=True):
                    if not value:
                        error(column, _("Give building, floor level and room number together."))
            elif room is None:
                error("room", _("No such room in this building and floor."))
            else:
                meter.room = room
                meter.customer = room.customer

        if data.get("customer"):
            matches = customers.get(data["customer"], [])
            if len(matches) != 1:
                error(
                    "customer",
                    _("No customer with this name or phone.")
                    if not matches
                    else _("Several customers have this name; use the phone number."),
                )
            else:
                meter.customer = matches[0]
        report.meters.append(meter)
    return report
