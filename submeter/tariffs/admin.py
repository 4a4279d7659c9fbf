"""Tariffs in the console: the JSON document in an editor with a live bill preview.

The preview posts the unsaved tariff and usage texts to `preview/`, which rates them with the
engine and answers the bill table (or the engine's error) as an HTML fragment for htmx.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.text import capfirst
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from unfold.widgets import UnfoldAdminTextareaWidget

from submeter.console.admin_base import ScopedAdmin
from submeter.engine import EngineError, TariffError, quote
from submeter.ledger.choices import Utility
from submeter.tariffs.models import Tariff
from submeter.tenancy.roles import TARIFFS_CHANGE

MONOSPACE = "font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px"

# Usage documents the preview starts with (docs/tariffs.md §7): the sample bill's month for
# electricity, a month of water.
USAGE_EXAMPLES = {
    Utility.ELECTRICITY: {
        "period": {"start": "2025-07-01T00:00:00+08:00", "end": "2025-08-01T00:00:00+08:00"},
        "energy_kwh": {"sharp": "1985.1", "peak": "3359.1", "flat": "603.9", "valley": "5922.6"},
        "reactive_kvarh": "3000",
        "capacity_kva": "400",
    },
    Utility.WATER: {
        "period": {"start": "2025-07-01T00:00:00+08:00", "end": "2025-08-01T00:00:00+08:00"},
        "volume_m3": "30",
    },
}

# What a new tariff starts from: the two-part time-of-use tariff of the sample bill.
NEW_TARIFF_DOCUMENT = {
    "id": "new-tariff",
    "name": "New tariff",
    "utility": "electricity",
    "currency": "CNY",
    "timezone": "Asia/Shanghai",
    "versions": [
        {
            "valid_from": "2025-01-01",
            "energy": {
                "kind": "tou",
                "rates": {
                    "sharp": {"price": "1.0606"},
                    "peak": {"price": "0.8876"},
                    "flat": {"price": "0.705"},
                    "valley": {"price": "0.4038"},
                },
                "day_profiles": {
                    "everyday": [
                        {"from": "00:00", "to": "08:00", "rate": "valley"},
                        {"from": "08:00", "to": "09:00", "rate": "peak"},
                        {"from": "09:00", "to": "11:00", "rate": "sharp"},
                        {"from": "11:00", "to": "13:00", "rate": "valley"},
                        {"from": "13:00", "to": "15:00", "rate": "flat"},
                        {"from": "15:00", "to": "17:00", "rate": "sharp"},
                        {"from": "17:00", "to": "23:00", "rate": "peak"},
                        {"from": "23:00", "to": "24:00", "rate": "flat"},
                    ]
                },
            },
            "basic_charge": {"method": "capacity", "price_per_kva_month": "30"},
            "power_factor": {"standard": "0.90"},
        }
    ],
}


def pretty_json(value) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)


class TariffDocumentField(forms.JSONField):
    """The tariff document as indented JSON."""

    def prepare_value(self, value):
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return pretty_json(value)


class TariffForm(forms.ModelForm):
    document = TariffDocumentField(
        label=capfirst(_("tariff document")),
        help_text=_("JSON, as described in docs/tariffs.md. Saving checks it with the engine."),
        widget=UnfoldAdminTextareaWidget(
            attrs={"rows": 28, "spellcheck": "false", "style": MONOSPACE}
        ),
    )

    class Meta:
        model = Tariff
        fields = ["organisation", "name", "utility", "document"]


def quote_texts(document_text: str, usage_text: str) -> dict:
    """Rate the unsaved texts: the bill's lines and total, or where and why they are wrong."""
    documents = {}
    for name, text, source in (
        ("tariff", document_text, _("Tariff document")),
        ("usage", usage_text, _("Usage")),
    ):
        try:
            documents[name] = json.loads(text)
        except json.JSONDecodeError as exc:
            location = _("line %(line)d, column %(column)d") % {
                "line": exc.lineno,
                "column": exc.colno,
            }
            return {"source": source, "field": location, "message": exc.msg}
    try:
        bill = quote(documents["tariff"], documents["usage"])
    except EngineError as exc:
        source = _("Tariff document") if isinstance(exc, TariffError) else _("Usage")
        return {"source": source, "field": exc.field, "message": exc.message}
    chinese = (get_language() or "").startswith("zh")
    lines = [
        {**line, "label": line["label_zh"] if chinese else line["label_en"]}
        for line in bill["lines"]
    ]
    return {"bill": bill, "lines": lines}


@admin.register(Tariff)
class TariffAdmin(ScopedAdmin):
    change_permission = TARIFFS_CHANGE
    form = TariffForm
    list_display = ["name", "utility", "version_list", "updated_at", "organisation"]
    list_filter = ["utility"]
    search_fields = ["name"]
    list_select_related = ["organisation"]
    fields = ["organisation", "name", "utility", "document"]
    change_form_outer_after_template = "tariffs/editor_preview.html"

    class Media:
        js = ["tariffs/tariff_editor.js"]

    @admin.display(description=_("versions"))
    def version_list(self, obj):
        return ", ".join(obj.versions)

    def get_changeform_initial_data(self, request):
        return {"document": NEW_TARIFF_DOCUMENT, **super().get_changeform_initial_data(request)}

    def get_fields(self, request, obj=None):
        if obj is not None and not self.has_change_permission(request, obj):
            return ["organisation", "name", "utility"]
        return super().get_fields(request, obj)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        tariff = self.get_object(request, object_id) if object_id else None
        utility = tariff.utility if tariff else Utility.ELECTRICITY
        read_only = tariff is not None and not self.has_change_permission(request, tariff)
        extra_context = {
            **(extra_context or {}),
            "read_only_document": pretty_json(tariff.document) if read_only else "",
            "usage_text": pretty_json(
                USAGE_EXAMPLES.get(utility, USAGE_EXAMPLES[Utility.ELECTRICITY])
            ),
            "usage_examples": {key: pretty_json(value) for key, value in USAGE_EXAMPLES.items()},
        }
        return super().changeform_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        return [
            path(
                "preview/",
                self.admin_site.admin_view(self.preview_view),
                name="tariffs_tariff_preview",
            ),
            *super().get_urls(),
        ]

    def preview_view(self, request):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = quote_texts(request.POST.get("document", ""), request.POST.get("usage", ""))
        return TemplateResponse(request, "tariffs/bill_preview.html", context)
