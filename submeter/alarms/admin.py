"""Console: the notifications sent to tenants, with their delivery state, and resend."""

from __future__ import annotations

from django.contrib import admin, messages
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from unfold.decorators import action

from submeter.alarms import services
from submeter.alarms.models import Notification
from submeter.console.admin_base import ScopedReadOnlyAdmin
from submeter.customers.models import Customer
from submeter.errors import ServiceError
from submeter.ledger.admin import DayRangeFilter
from submeter.tenancy.roles import CUSTOMERS_CHANGE
from submeter.tenancy.scoping import console_scope


class CustomerFilter(admin.SimpleListFilter):
    """The customers of the organisations in view (never another organisation's)."""

    title = _("customer")
    parameter_name = "customer"

    def lookups(self, request, model_admin):
        customers = console_scope(request).filter(Customer.objects.order_by("name"))
        return [(str(pk), name) for pk, name in customers.values_list("pk", "name")]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(customer_id=int(value))


@admin.register(Notification)
class NotificationAdmin(ScopedReadOnlyAdmin):
    list_display = [
        "created_at",
        "customer",
        "kind",
        "channel",
        "recipient",
        "state",
        "attempts",
        "sent_at",
        "error",
    ]
    list_filter = [
        "kind",
        "channel",
        "state",
        CustomerFilter,
        ("created_at", DayRangeFilter),
    ]
    search_fields = ["customer__name", "recipient", "subject", "dedupe_key"]
    list_select_related = ["customer"]
    fields = [
        "created_at",
        "organisation",
        "customer",
        "kind",
        "channel",
        "recipient",
        "language",
        "subject",
        "body",
        "context",
        "params",
        "dedupe_key",
        "state",
        "attempts",
        "retry",
        "next_attempt_at",
        "error",
        "provider_message_id",
        "sent_at",
        "resend_of",
        "actor",
    ]
    readonly_fields = fields
    actions = ["export_selected", "resend_selected"]
    actions_detail = ["resend_one"]
    warn_unsaved_form = False

    def has_resend_permission(self, request, object_id=None) -> bool:
        if object_id is None:
            return console_scope(request).can(CUSTOMERS_CHANGE)
        notification = console_scope(request).get(Notification.objects.all(), pk=object_id)
        return console_scope(request).can(CUSTOMERS_CHANGE, notification.organisation_id)

    @admin.action(description=_("Send again"), permissions=["resend"])
    def resend_selected(self, request, queryset):
        scope = console_scope(request)
        sent, refused = 0, []
        for notification in queryset:
            if not scope.can(CUSTOMERS_CHANGE, notification.organisation_id):
                refused.append(str(notification))
                continue
            try:
                services.resend(request.user, notification)
                sent += 1
            except ServiceError as error:
                refused.append(f"{notification}: {error.message}")
        if sent:
            message = ngettext(
                "%(count)d notification queued again.",
                "%(count)d notifications queued again.",
                sent,
            ) % {"count": sent}
            self.message_user(request, message, messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.WARNING)

    @action(description=_("Send again"), url_path="resend", icon="send", permissions=["resend"])
    def resend_one(self, request, object_id):
        notification = console_scope(request).get(Notification.objects.all(), pk=object_id)
        try:
            copy = services.resend(request.user, notification)
        except ServiceError as error:
            self.message_user(request, error.message, messages.ERROR)
            return redirect("admin:alarms_notification_change", notification.pk)
        self.message_user(request, _("Queued again."), messages.SUCCESS)
        return redirect("admin:alarms_notification_change", copy.pk)
