"""Excel export of any console list: the columns the list shows, the rows its filters select."""

from __future__ import annotations

import datetime
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.contrib.admin.utils import label_for_field, lookup_field
from django.db import models
from django.http import HttpResponse
from django.utils import timezone
from django.utils.encoding import force_str
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _cell_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, datetime.datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.replace(tzinfo=None)
    if isinstance(value, datetime.date):
        return value
    return force_str(value)


def workbook_bytes(title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    workbook = Workbook(write_only=False)
    sheet = workbook.active
    sheet.title = title[:31] or "Sheet1"
    sheet.append([force_str(h) for h in headers])
    widths = [len(force_str(h)) + 2 for h in headers]
    for row in rows:
        values = [_cell_value(v) for v in row]
        sheet.append(values)
        for i, value in enumerate(values):
            widths[i] = min(60, max(widths[i], len(str(value)) + 2))
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def xlsx_response(filename: str, content: bytes) -> HttpResponse:
    response = HttpResponse(content, content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def export_queryset(model_admin, queryset: models.QuerySet, columns: Sequence[str]) -> HttpResponse:
    """Export `columns` (list_display-style names) of `queryset` as an .xlsx download."""
    model = queryset.model
    headers = [force_str(label_for_field(name, model, model_admin)) for name in columns]

    def rows() -> Iterable[list[Any]]:
        for obj in queryset.iterator(chunk_size=1000):
            row = []
            for name in columns:
                field, _attr, value = lookup_field(name, obj, model_admin)
                if field is not None and getattr(field, "flatchoices", None):
                    value = dict(field.flatchoices).get(value, value)
                elif isinstance(value, models.Model):
                    value = str(value)
                row.append(value)
            yield row

    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    content = workbook_bytes(force_str(model._meta.verbose_name_plural), headers, rows())
    return xlsx_response(f"{model._meta.model_name}-{stamp}.xlsx", content)
