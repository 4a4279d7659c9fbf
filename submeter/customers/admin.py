from django import forms
from django.contrib import admin
from django.http import Http404
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _
from unfold.decorators import action
from unfold.widgets import UnfoldAdminSelectMultipleWidget

from submeter.console.admin_base import ScopedAdmin
from submeter.customers import services
from submeter.customers.models import Customer
from submeter.sites.models import Room
from submeter.tenancy.roles import CUSTOMERS_CHANGE, MONEY_OPERATE


class CustomerForm(forms.ModelForm):
    rooms = forms.ModelMultipleChoiceField(
        label=_("rooms"),
        queryset=Room.objects.none(),
        required=False,
        widget=UnfoldAdminSelectMultipleWidget,
    )

    class Meta:
        model = Customer
        fields = "__all__"


@admin.register(Customer)
class CustomerAdmin(ScopedAdmin):
    change_permission = CUSTOMERS_CHANGE
    form = CustomerForm
    list_display = [
        "name",
        "contact_name",
        "phone",
        "room_list",
        "settlement",
        "state",
        "organisation",
    ]
    list_filter = [
        "state",
        "settlement",
        "notify_sms",
        "notify_wechat",
        "notify_email",
        "notify_voice",
    ]
    search_fields = ["name", "contact_name", "phone", "email", "rooms__number"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "organisation",
                    "name",
                    "contact_name",
                    "phone",
                    "email",
                    "rooms",
                    "state",
                ]
            },
        ),
        (
            _("Billing"),
            {"fields": ["settlement", "free_kwh_per_month", "free_m3_per_month"]},
        ),
        (
            _("Notification preferences"),
            {
                "fields": [
                    "notify_sms",
                    "notify_wechat",
                    "notify_email",
                    "notify_voice",
                    "wechat_openid",
                ]
            },
        ),
    ]

    actions_row = ["open_statement", "open_topup"]
    actions_detail = ["open_statement", "open_topup"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("organisation")
            .prefetch_related("rooms__floor__building")
        )

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        rooms = self.scope(request).filter(Room.objects.select_related("floor__building"))
        form.base_fields["rooms"].queryset = rooms
        if obj is not None:
            form.base_fields["rooms"].initial = list(obj.rooms.values_list("pk", flat=True))
        return form

    @admin.display(description=_("rooms"))
    def room_list(self, obj):
        return ", ".join(str(room) for room in obj.rooms.all())

    def save_model(self, request, obj, form, change):
        request.customer_rooms = form.cleaned_data.get("rooms")

    def save_related(self, request, form, formsets, change):
        services.save_customer(request.user, form.instance, rooms=request.customer_rooms)

    # -- links to the money screens (submeter.ledger.admin) --------------------------------------
    def has_money_operate_permission(self, request, object_id=None) -> bool:
        if object_id is None:
            return self.scope(request).can(MONEY_OPERATE)
        return self.scope(request).can(
            MONEY_OPERATE, self._scoped_customer(request, object_id).organisation_id
        )

    def _scoped_customer(self, request, object_id) -> Customer:
        customer = self.get_object(request, object_id)
        if customer is None:
            raise Http404(_("Not found."))
        return customer

    @action(description=_("Statement"), url_path="statement", icon="receipt_long")
    def open_statement(self, request, object_id):
        customer = self._scoped_customer(request, object_id)
        return redirect("admin:ledger_statement", customer.pk)

    @action(
        description=_("Top up"), url_path="top-up", icon="add_card", permissions=["money_operate"]
    )
    def open_topup(self, request, object_id):
        customer = self._scoped_customer(request, object_id)
        return redirect("admin:ledger_topup", customer.pk)
