from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from unfold.contrib.filters.admin import RelatedDropdownFilter

from submeter.console.admin_base import ScopedAdmin
from submeter.console.exports import xlsx_response
from submeter.metering import services
from submeter.metering.meter_import import COLUMNS, ImportFileError, template_bytes
from submeter.metering.models import Gateway, Meter, MeterState
from submeter.tenancy.models import Organisation
from submeter.tenancy.roles import DEVICES_CHANGE
from submeter.tenancy.scoping import current_organisation_id


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
        label=_("organisation"), queryset=Organisation.objects.none()
    )
    file = forms.FileField(label=_("Excel file (.xlsx)"))


@admin.register(Meter)
class MeterAdmin(ScopedAdmin):
    change_permission = DEVICES_CHANGE
    list_display = [
        "address",
        "kind",
        "phases",
        "room",
        "customer",
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
        ("room__floor__building", RelatedDropdownFilter),
    ]
    search_fields = ["address", "serial", "model", "room__number", "customer__name"]
    list_select_related = ["room__floor__building", "customer", "gateway"]
    autocomplete_fields = ["room", "customer", "gateway"]
    fieldsets = [
        (None, {"fields": ["organisation", "kind", "phases", "address", "serial", "model"]}),
        (
            _("Installation"),
            {"fields": ["gateway", "room", "customer", "ct_ratio", "rated_power_kw", "state"]},
        ),
    ]
    actions = ["export_selected", "take_out_of_service", "put_in_service"]

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
