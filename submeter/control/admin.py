"""The console for commands: the command list (with the failed / unknown / expired preset and a
resend action), batch tasks, timed controls, control settings and holidays."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy as _
from unfold.contrib.filters.admin import RangeDateTimeFilter

from submeter.console.admin_base import ScopedAdmin, ScopedReadOnlyAdmin
from submeter.control import services
from submeter.control.models import (
    Command,
    CommandAction,
    CommandBatch,
    CommandState,
    ControlSchedule,
    ControlSettings,
    QuietDay,
)
from submeter.errors import ServiceError
from submeter.metering.models import MeterKind
from submeter.sites.models import Building, Floor
from submeter.tenancy.roles import CONTROL_OPERATE
from submeter.tenancy.scoping import current_organisation_id


class NeedsAttentionFilter(admin.SimpleListFilter):
    """The preset of the failed list: failed, unknown or expired, or acknowledged with another
    state than asked."""

    title = _("needs attention")
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [
            ("failed", _("Failed, unknown or expired")),
            ("mismatch", _("State mismatch")),
        ]

    def queryset(self, request, queryset):
        if self.value() == "failed":
            return queryset.filter(
                state__in=[CommandState.FAILED, CommandState.UNKNOWN, CommandState.EXPIRED],
                resends__isnull=True,
            )
        if self.value() == "mismatch":
            return queryset.filter(mismatch=True)
        return queryset


@admin.register(Command)
class CommandAdmin(ScopedReadOnlyAdmin):
    change_permission = CONTROL_OPERATE
    list_display = [
        "created_at",
        "meter",
        "action",
        "state",
        "attempts",
        "mismatch",
        "error",
        "reason",
        "requested_by",
        "finished_at",
    ]
    list_filter = [
        NeedsAttentionFilter,
        "state",
        "action",
        "mismatch",
        ("created_at", RangeDateTimeFilter),
    ]
    search_fields = ["meter__address", "command_id", "reason", "decision_key"]
    readonly_fields = [field.name for field in Command._meta.fields]
    actions = ["export_selected", "resend_selected", "cancel_selected"]
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("meter", "requested_by")

    def _each(self, request, queryset, operation, done_message):
        if not self.scope(request).can(CONTROL_OPERATE):
            raise PermissionDenied
        count = 0
        for command in queryset:
            if not self.scope(request).can(CONTROL_OPERATE, command.organisation_id):
                continue
            try:
                operation(request.user, command)
                count += 1
            except ServiceError as exc:
                self.message_user(request, f"{command}: {exc.message}", messages.WARNING)
        self.message_user(request, done_message % {"count": count}, messages.SUCCESS)

    @admin.action(description=_("Send selected again"))
    def resend_selected(self, request, queryset):
        self._each(request, queryset, services.resend, _("%(count)d commands sent again."))

    @admin.action(description=_("Cancel selected"))
    def cancel_selected(self, request, queryset):
        self._each(request, queryset, services.cancel, _("%(count)d commands cancelled."))


class BatchForm(forms.ModelForm):
    building = forms.ModelChoiceField(
        label=_("building"), queryset=Building.objects.none(), required=False
    )
    floor = forms.ModelChoiceField(label=_("floor"), queryset=Floor.objects.none(), required=False)
    kind = forms.ChoiceField(
        label=_("meter kind"), choices=[("", "—"), *MeterKind.choices], required=False
    )
    confirm = forms.BooleanField(
        label=_("I confirm this cut-off"),
        required=False,
        help_text=_("Needed for a batch cut-off; protected customers are always left out."),
    )

    class Meta:
        model = CommandBatch
        fields = ["organisation", "action", "params", "run_at", "reason"]

    def meter_filter(self) -> dict:
        data = self.cleaned_data
        chosen = {
            "building": data["building"].pk if data.get("building") else None,
            "floor": data["floor"].pk if data.get("floor") else None,
            "kind": data.get("kind") or None,
        }
        return {key: value for key, value in chosen.items() if value is not None}

    def clean(self):
        data = super().clean()
        action = data.get("action")
        if action in services.CUT_ACTIONS and not data.get("confirm"):
            self.add_error("confirm", _("Confirm the cut-off."))
        if not (data.get("reason") or "").strip():
            self.add_error("reason", _("This field is required."))
        return data


@admin.register(CommandBatch)
class CommandBatchAdmin(ScopedAdmin):
    change_permission = CONTROL_OPERATE
    form = BatchForm
    list_display = [
        "run_at",
        "action",
        "meter_count",
        "skipped_count",
        "started_at",
        "reason",
        "created_by",
        "schedule",
    ]
    list_filter = ["action", ("run_at", RangeDateTimeFilter)]
    search_fields = ["reason"]

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        scope = self.scope(request)
        form.base_fields["building"].queryset = scope.filter(Building.objects.all())
        form.base_fields["floor"].queryset = scope.filter(Floor.objects.select_related("building"))
        return form

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return [field.name for field in CommandBatch._meta.fields]
        return []

    def save_model(self, request, obj, form, change):
        if change:
            return
        try:
            batch = services.create_batch(
                request.user,
                obj.organisation_id or current_organisation_id(request),
                obj.action,
                form.meter_filter(),
                run_at=obj.run_at,
                params=obj.params,
                reason=obj.reason,
                confirm=form.cleaned_data.get("confirm", False),
            )
        except ServiceError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            raise PermissionDenied(exc.message) from exc
        obj.pk = obj.id = batch.pk


@admin.register(ControlSchedule)
class ControlScheduleAdmin(ScopedAdmin):
    change_permission = CONTROL_OPERATE
    list_display = ["name", "action", "time_of_day", "weekdays", "enabled", "last_run_on"]
    list_filter = ["action", "enabled"]
    search_fields = ["name"]

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "action":
            kwargs["choices"] = [
                (action.value, action.label)
                for action in (
                    CommandAction.TRIP,
                    CommandAction.CLOSE,
                    CommandAction.VALVE_CLOSE,
                    CommandAction.VALVE_OPEN,
                    CommandAction.SET_POWER_LIMIT,
                )
            ]
        return super().formfield_for_choice_field(db_field, request, **kwargs)


@admin.register(ControlSettings)
class ControlSettingsAdmin(ScopedAdmin):
    change_permission = CONTROL_OPERATE
    list_display = [
        "organisation",
        "quiet_start",
        "quiet_end",
        "quiet_weekends",
        "extreme_weather",
        "close_mode",
        "relay_actions_per_meter_per_hour",
        "relay_actions_per_org_per_minute",
        "command_timeout_seconds",
        "command_max_attempts",
        "command_expiry_minutes",
    ]
    list_filter = ["quiet_weekends", "extreme_weather", "close_mode"]


@admin.register(QuietDay)
class QuietDayAdmin(ScopedAdmin):
    change_permission = CONTROL_OPERATE
    list_display = ["date", "name", "organisation"]
    list_filter = [("date", admin.DateFieldListFilter)]
    search_fields = ["name"]
