"""Console: the usage charges (every billed interval, read-only) and the register reviews."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy as _
from unfold.contrib.filters.admin import RangeDateTimeFilter, RelatedDropdownFilter

from submeter.billing import services
from submeter.billing.models import ReviewFlag, ReviewState, UsageCharge
from submeter.console.admin_base import ScopedReadOnlyAdmin
from submeter.errors import ServiceError
from submeter.tenancy.roles import DEVICES_CHANGE


@admin.register(UsageCharge)
class UsageChargeAdmin(ScopedReadOnlyAdmin):
    list_display = [
        "interval_end",
        "interval_start",
        "meter",
        "customer",
        "utility",
        "quantity",
        "free_quantity",
        "estimated",
        "amount_exact",
        "posted_amount",
        "month_end",
        "transaction",
        "tariff",
        "tariff_version",
    ]
    list_filter = [
        "utility",
        "estimated",
        "month_end",
        ("interval_end", RangeDateTimeFilter),
        ("meter", RelatedDropdownFilter),
        ("customer", RelatedDropdownFilter),
    ]
    search_fields = ["meter__address", "customer__name"]
    list_select_related = ["meter", "customer", "tariff", "transaction"]
    readonly_fields = [f.name for f in UsageCharge._meta.fields]
    date_hierarchy = "interval_end"
    show_full_result_count = False


@admin.register(ReviewFlag)
class ReviewFlagAdmin(ScopedReadOnlyAdmin):
    list_display = [
        "created_at",
        "meter",
        "reading_at",
        "register",
        "billed_value",
        "read_value",
        "state",
        "resolved_by",
        "resolved_at",
    ]
    list_filter = ["state", ("created_at", RangeDateTimeFilter), ("meter", RelatedDropdownFilter)]
    search_fields = ["meter__address"]
    list_select_related = ["meter", "resolved_by"]
    readonly_fields = [f.name for f in ReviewFlag._meta.fields]
    actions = ["export_selected", "restart_series"]

    @admin.action(description=_("Start a new register series at the flagged reading"))
    def restart_series(self, request, queryset):
        if not self.scope(request).can(DEVICES_CHANGE):
            raise PermissionDenied
        done = 0
        for flag in queryset.filter(state=ReviewState.OPEN):
            if not self.scope(request).can(DEVICES_CHANGE, flag.organisation_id):
                continue
            try:
                services.restart_series(request.user, flag)
                done += 1
            except ServiceError as exc:
                self.message_user(request, f"{flag}: {exc.message}", messages.WARNING)
        self.message_user(
            request, _("%(count)d reviews resolved.") % {"count": done}, messages.SUCCESS
        )
