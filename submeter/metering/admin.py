from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from unfold.contrib.filters.admin import RangeDateTimeFilter, RelatedDropdownFilter
from unfold.widgets import (
    UnfoldAdminDecimalFieldWidget,
    UnfoldAdminFileFieldWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminSplitDateTimeWidget,
)

from submeter.console.admin_base import ScopedAdmin
from submeter.console.exports import xlsx_response
from submeter.errors import ServiceError
from submeter.metering import services
from submeter.metering.charts import seven_day_charts
from submeter.metering.meter_import import COLUMNS, ImportFileError, template_bytes
from submeter.metering.models import (
    CUMULATIVE_FIELDS,
    INSTANTANEOUS_FIELDS,
    Gateway,
    Meter,
    MeterState,
    QuarantinedReading,
    QuarantineState,
    Reading,
)
from submeter.tenancy.models import Organisation
from submeter.tenancy.roles import DEVICES_CHANGE
from submeter.tenancy.scoping import current_organisation_id

FIELD_NAMES = frozenset((*CUMULATIVE_FIELDS, *INSTANTANEOUS_FIELDS))


@admin.register(Gateway)
class GatewayAdmin(ScopedAdmin):
    change_permission = DEVICES_CHANGE
    list_display = [
        "name",
        "serial",
        "protocol",
        "address",
        "online_state",
        "last_seen_at",
        "organisation",
    ]
    list_filter = ["protocol", "online_state"]
    search_fields = ["name", "serial", "address"]
    fields = ["organisation", "name", "serial", "protocol", "address"]
    list_select_related = ["organisation"]


class MeterImportForm(forms.Form):
    organisation = forms.ModelChoiceField(
        label=_("organisation"),
        queryset=Organisation.objects.none(),
        widget=UnfoldAdminSelectWidget,
    )
    file = forms.FileField(label=_("Excel file (.xlsx)"), widget=UnfoldAdminFileFieldWidget)


class ManualReadingForm(forms.Form):
    timestamp = forms.SplitDateTimeField(
        label=_("reading time"), widget=UnfoldAdminSplitDateTimeWidget
    )
    REGISTERS = (
        "energy_kwh",
        "energy_rate1_kwh",
        "energy_rate2_kwh",
        "energy_rate3_kwh",
        "energy_rate4_kwh",
        "water_m3",
    )

    def __init__(self, *args, kind: str = "electricity", **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.REGISTERS:
            self.fields[name] = forms.DecimalField(
                label=Reading._meta.get_field(name).verbose_name,
                required=False,
                min_value=0,
                decimal_places=3,
                widget=UnfoldAdminDecimalFieldWidget,
            )
        hidden = (
            (
                "energy_kwh",
                "energy_rate1_kwh",
                "energy_rate2_kwh",
                "energy_rate3_kwh",
                "energy_rate4_kwh",
            )
            if kind == "water"
            else ("water_m3",)
        )
        for name in hidden:
            del self.fields[name]

    def registers(self) -> dict:
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if name != "timestamp" and value is not None
        }

    def clean(self):
        cleaned = super().clean()
        if not any(value is not None for name, value in cleaned.items() if name != "timestamp"):
            raise forms.ValidationError(_("Enter at least one register."))
        return cleaned


@admin.register(Meter)
class MeterAdmin(ScopedAdmin):
    change_permission = DEVICES_CHANGE
    list_display = [
        "address",
        "kind",
        "phases",
        "room",
        "customer",
        "tariff",
        "gateway",
        "ct_ratio",
        "rated_power_kw",
        "state",
        "online_state",
        "last_reading_at",
    ]
    list_filter = [
        "kind",
        "state",
        "online_state",
        "phases",
        ("gateway", RelatedDropdownFilter),
        ("tariff", RelatedDropdownFilter),
        ("room__floor__building", RelatedDropdownFilter),
    ]
    search_fields = ["address", "serial", "model", "room__number", "customer__name"]
    list_select_related = ["room__floor__building", "customer", "gateway", "tariff"]
    autocomplete_fields = ["room", "customer", "gateway"]
    fieldsets = [
        (None, {"fields": ["organisation", "kind", "phases", "address", "serial", "model"]}),
        (
            _("Installation"),
            {
                "fields": [
                    "gateway",
                    "room",
                    "customer",
                    "tariff",
                    "ct_ratio",
                    "rated_power_kw",
                    "state",
                ]
            },
        ),
    ]
    actions = ["export_selected", "take_out_of_service", "put_in_service"]
    change_form_after_template = "metering/meter_panel.html"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        meter = self.get_object(request, object_id)
        if meter is not None:
            extra_context = {
                **(extra_context or {}),
                "meter_panel": self.meter_panel(request, meter),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def meter_panel(self, request, meter):
        latest = []
        values = meter.latest_values()
        for name in (*CUMULATIVE_FIELDS, *INSTANTANEOUS_FIELDS):
            if name in values:
                latest.append(
                    {
                        "label": Reading._meta.get_field(name).verbose_name,
                        "value": values[name],
                    }
                )
        tools = [
            {
                "name": "readings",
                "url": reverse("admin:metering_reading_changelist")
                + f"?meter__id__exact={meter.pk}",
                "icon": "table_rows",
                "label": _("Readings"),
            }
        ]
        if self.scope(request).can(DEVICES_CHANGE, meter.organisation_id) and meter.gateway_id:
            tools.append(
                {
                    "name": "read-now",
                    "url": reverse("admin:metering_meter_read_now", args=[meter.pk]),
                    "icon": "sensors",
                    "label": _("Read now"),
                    "post": True,
                }
            )
        if self.has_change_permission(request, meter):
            tools.append(
                {
                    "name": "manual-reading",
                    "url": reverse("admin:metering_meter_manual_reading", args=[meter.pk]),
                    "icon": "edit_note",
                    "label": _("Enter a reading"),
                }
            )
        return {
            "latest": latest,
            "last_reading_at": meter.last_reading_at,
            "charts": seven_day_charts(meter),
            "tools": tools,
        }

    def read_now_view(self, request, object_id):
        meter = self.get_object(request, object_id)
        if meter is None:
            raise Http404
        if not self.scope(request).can(DEVICES_CHANGE, meter.organisation_id):
            raise PermissionDenied
        if request.method != "POST":
            return redirect("admin:metering_meter_change", meter.pk)
        try:
            values = services.read_now(request.user, meter)
        except ServiceError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            shown = ", ".join(
                f"{Reading._meta.get_field(k).verbose_name} {v}"
                for k, v in values.items()
                if k in FIELD_NAMES
            )
            self.message_user(
                request, _("The meter answered: %(values)s") % {"values": shown}, messages.SUCCESS
            )
        return redirect("admin:metering_meter_change", meter.pk)

    def manual_reading_view(self, request, object_id):
        meter = self.get_object(request, object_id)
        if meter is None:
            raise Http404
        if not self.has_change_permission(request, meter):
            raise PermissionDenied
        form = ManualReadingForm(request.POST or None, kind=meter.kind)
        if request.method == "POST" and form.is_valid():
            try:
                services.enter_manual_reading(
                    request.user, meter, form.cleaned_data["timestamp"], form.registers()
                )
            except ServiceError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(request, _("Reading saved."), messages.SUCCESS)
                return redirect("admin:metering_meter_change", meter.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Enter a reading for %(meter)s") % {"meter": meter},
            "form": form,
            "meter": meter,
        }
        return TemplateResponse(request, "metering/manual_reading.html", context)

    def changelist_view(self, request, extra_context=None):
        extra_context = dict(extra_context or {})
        if self.has_add_permission(request):
            extra_context["list_tools"] = [
                {
                    "name": "import-meters",
                    "url": reverse("admin:metering_meter_import"),
                    "icon": "upload_file",
                    "label": _("Import from Excel"),
                }
            ]
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="metering_meter_import",
            ),
            path(
                "<path:object_id>/read-now/",
                self.admin_site.admin_view(self.read_now_view),
                name="metering_meter_read_now",
            ),
            path(
                "<path:object_id>/manual-reading/",
                self.admin_site.admin_view(self.manual_reading_view),
                name="metering_meter_manual_reading",
            ),
            path(
                "import/template.xlsx",
                self.admin_site.admin_view(self.template_view),
                name="metering_meter_import_template",
            ),
            *super().get_urls(),
        ]

    def template_view(self, request):
        return xlsx_response("meter-template.xlsx", template_bytes())

    def import_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        scope = self.scope(request)
        organisations = Organisation.objects.filter(
            pk__in=scope.organisations_allowing(DEVICES_CHANGE)
        )
        form = MeterImportForm(
            request.POST or None,
            request.FILES or None,
            initial={"organisation": current_organisation_id(request)},
        )
        form.fields["organisation"].queryset = organisations
        report = None
        file_error = None
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                report = services.import_meters(
                    request.user, form.cleaned_data["organisation"], upload.read()
                )
            except ImportFileError as exc:
                file_error = str(exc)
            else:
                if report.ok:
                    self.message_user(
                        request,
                        _("%(count)d meters imported.") % {"count": len(report.meters)},
                        messages.SUCCESS,
                    )
                    return redirect("admin:metering_meter_changelist")
        labels = {key: f"{label}" for key, label, _required in COLUMNS}
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Import meters from Excel"),
            "form": form,
            "report": report,
            "file_error": file_error,
            "errors": [
                {"row": e.row, "column": labels.get(e.column, e.column), "message": e.message}
                for e in (report.errors if report else [])
            ],
        }
        return TemplateResponse(request, "metering/meter_import.html", context)

    @admin.action(description=_("Take selected meters out of service"))
    def take_out_of_service(self, request, queryset):
        self._set_state(request, queryset, MeterState.INACTIVE)

    @admin.action(description=_("Put selected meters in service"))
    def put_in_service(self, request, queryset):
        self._set_state(request, queryset, MeterState.ACTIVE)

    def _set_state(self, request, queryset, state):
        from submeter.tenancy.services import save_record

        changed = 0
        for meter in queryset:
            if self.has_change_permission(request, meter) and meter.state != state:
                meter.state = state
                save_record(request.user, meter)
                changed += 1
        self.message_user(
            request, _("%(count)d meters changed.") % {"count": changed}, messages.SUCCESS
        )


@admin.register(Reading)
class ReadingAdmin(ScopedAdmin):
    change_permission = DEVICES_CHANGE
    list_display = [
        "timestamp",
        "meter",
        "source",
        "energy_kwh",
        "energy_rate1_kwh",
        "energy_rate2_kwh",
        "energy_rate3_kwh",
        "energy_rate4_kwh",
        "water_m3",
        "power_kw",
        "voltage_a_v",
        "current_a_a",
        "power_factor",
    ]
    list_filter = [
        "source",
        "meter__kind",
        ("timestamp", RangeDateTimeFilter),
        ("meter", RelatedDropdownFilter),
    ]
    search_fields = ["meter__address"]
    list_select_related = ["meter"]
    date_hierarchy = "timestamp"
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("-timestamp")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(QuarantinedReading)
class QuarantinedReadingAdmin(ScopedAdmin):
    change_permission = DEVICES_CHANGE
    list_display = [
        "received_at",
        "reason",
        "meter_address",
        "gateway_serial",
        "timestamp",
        "source",
        "detail",
        "state",
    ]
    list_filter = ["state", "reason", "source", ("received_at", RangeDateTimeFilter)]
    search_fields = ["meter_address", "gateway_serial", "detail"]
    readonly_fields = [f.name for f in QuarantinedReading._meta.fields]
    actions = ["export_selected", "release", "discard"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("meter")

    @admin.action(description=_("Release selected (store the readings)"))
    def release(self, request, queryset):
        if not self.scope(request).can(DEVICES_CHANGE):
            raise PermissionDenied
        released = 0
        for item in queryset.filter(state=QuarantineState.PENDING):
            if not self.scope(request).can(DEVICES_CHANGE, item.organisation_id):
                continue
            try:
                services.release_quarantined(request.user, item)
                released += 1
            except ServiceError as exc:
                self.message_user(request, f"{item}: {exc.message}", messages.WARNING)
        self.message_user(
            request, _("%(count)d readings released.") % {"count": released}, messages.SUCCESS
        )

    @admin.action(description=_("Discard selected"))
    def discard(self, request, queryset):
        if not self.scope(request).can(DEVICES_CHANGE):
            raise PermissionDenied
        count = 0
        for item in queryset.filter(state=QuarantineState.PENDING):
            if self.scope(request).can(DEVICES_CHANGE, item.organisation_id):
                services.discard_quarantined(request.user, item)
                count += 1
        self.message_user(
            request, _("%(count)d readings discarded.") % {"count": count}, messages.SUCCESS
        )
