"""The money screens of the console: transactions, wallets, the customer statement and the dialogs.

Every money change goes through submeter.ledger.services; the views here only collect, confirm
and show. A dialog is a form, a confirmation step and a POST that calls the service, then a
printable receipt. Top-ups and refunds carry an idempotency key made when the form is first shown,
so a double submit or a refresh posts once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from unfold.admin import TabularInline
from unfold.contrib.filters.admin import RangeDateFilter
from unfold.decorators import action
from unfold.utils import parse_date_str
from unfold.widgets import (
    UnfoldAdminSelectWidget,
    UnfoldAdminTextInputWidget,
)

from submeter.console.admin_base import EXPORT_PARAM, ScopedReadOnlyAdmin
from submeter.console.exports import workbook_bytes, xlsx_response
from submeter.customers.models import Customer
from submeter.engine import split_topup
from submeter.errors import ServiceError
from submeter.ledger import services
from submeter.ledger.api import statement_entries
from submeter.ledger.choices import AccountKind, AccountState, Channel, TransactionKind
from submeter.ledger.models import Account, Entry, Transaction
from submeter.tenancy.roles import MONEY_OPERATE
from submeter.tenancy.scoping import console_scope

STATEMENT_PAGE_SIZE = 50


# -- forms ---------------------------------------------------------------------------------------


def new_idempotency_key() -> str:
    return f"console-{uuid.uuid4().hex}"


def amount_field(label) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        min_value=Decimal("0.01"),
        max_digits=12,
        decimal_places=2,
        widget=UnfoldAdminTextInputWidget(attrs={"inputmode": "decimal", "autofocus": True}),
    )


def channel_field() -> forms.ChoiceField:
    return forms.ChoiceField(
        label=capfirst(_("channel")),
        choices=Channel.choices,
        initial=Channel.CASH,
        widget=UnfoldAdminSelectWidget,
    )


def reason_field(required: bool = False) -> forms.CharField:
    return forms.CharField(
        label=capfirst(_("reason")),
        max_length=200,
        required=required,
        widget=UnfoldAdminTextInputWidget,
    )


class TopupForm(forms.Form):
    amount = amount_field(_("Amount paid (¥)"))
    channel = channel_field()
    reason = reason_field()
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=100)


class RefundForm(forms.Form):
    amount = amount_field(_("Amount to refund (¥)"))
    channel = channel_field()
    reason = reason_field()
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=100)


class ReversalForm(forms.Form):
    reason = reason_field(required=True)


class OverdraftForm(forms.Form):
    overdraft_limit = forms.DecimalField(
        label=_("Overdraft limit (¥)"),
        min_value=Decimal("0"),
        max_digits=12,
        decimal_places=2,
        help_text=_("How far below zero the wallet may go before supply is cut."),
        widget=UnfoldAdminTextInputWidget(attrs={"inputmode": "decimal", "autofocus": True}),
    )
    reason = reason_field()


class CloseForm(forms.Form):
    channel = forms.ChoiceField(
        label=_("Refund the balance by"),
        choices=Channel.choices,
        initial=Channel.CASH,
        widget=UnfoldAdminSelectWidget,
    )
    reason = reason_field()


class DayInput(UnfoldAdminTextInputWidget):
    input_type = "date"


class StatementFilterForm(forms.Form):
    """The statement's filters; the names are those of the API (`from`, `to`, `kind`)."""

    kind = forms.ChoiceField(
        label=capfirst(_("kind")),
        choices=[("", _("All kinds")), *TransactionKind.choices],
        required=False,
        widget=UnfoldAdminSelectWidget,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["from"] = forms.DateField(label=_("from"), required=False, widget=DayInput)
        self.fields["to"] = forms.DateField(label=_("to"), required=False, widget=DayInput)
        self.order_fields(["from", "to", "kind"])


def show_service_error(form: forms.Form, error: ServiceError) -> None:
    """Put a service's refusal on the form: field errors under their field, the rest on top."""
    placed = False
    for name, field_messages in error.fields.items():
        if name in form.fields and not form.fields[name].widget.is_hidden:
            for message in field_messages:
                form.add_error(name, message)
            placed = True
    if not placed:
        form.add_error(None, error.message)


# -- shared look-ups -----------------------------------------------------------------------------


def scoped_customer(request, customer_id: int) -> Customer:
    """The customer in the current organisation's scope, or 404."""
    queryset = Customer.objects.select_related("organisation").prefetch_related(
        "rooms__floor__building"
    )
    return console_scope(request).get(queryset, pk=customer_id)


def require_money_operate(request, organisation_id: int) -> None:
    if not console_scope(request).can(MONEY_OPERATE, organisation_id):
        raise PermissionDenied


def room_names(customer: Customer | None) -> str:
    if customer is None:
        return ""
    return ", ".join(str(room) for room in customer.rooms.all())


def money(value: Decimal) -> str:
    return f"{value:.2f}"


def wallet_change_of(transaction: Transaction) -> Entry | None:
    for entry in transaction.entries.all():
        if entry.account.kind == AccountKind.WALLET:
            return entry
    return None


def service_fee_of(transaction: Transaction) -> Decimal:
    return sum(
        (e.amount for e in transaction.entries.all() if e.account.kind == AccountKind.SERVICE_FEE),
        Decimal("0.00"),
    )


def operator_name(transaction: Transaction) -> str:
    if transaction.operator is None:
        return ""
    return transaction.operator.get_full_name() or transaction.operator.username


# -- the dialog flow -----------------------------------------------------------------------------


@dataclass
class Dialog:
    """One money dialog: its form, what the confirmation step says, and what confirming does.

    `preview(data)` returns the sentence and the details the confirmation step shows, and may
    refuse with a ServiceError; `perform(data)` calls the service and answers the redirect.
    """

    name: str
    title: str
    form: forms.Form
    customer: Customer
    preview: Callable[[dict], tuple[str, list[tuple[str, str]]]]
    perform: Callable[[dict], HttpResponse]
    confirm_label: str
    original: Transaction | None = None
    context: dict = field(default_factory=dict)


def run_dialog(model_admin, request, dialog: Dialog) -> HttpResponse:
    """Form → confirmation → service call. Nothing is posted before the confirming POST."""
    form = dialog.form
    sentence, details = "", []
    if request.method == "POST" and "edit" not in request.POST and form.is_valid():
        try:
            if request.POST.get("confirm"):
                return dialog.perform(form.cleaned_data)
            sentence, details = dialog.preview(form.cleaned_data)
        except ServiceError as error:
            show_service_error(form, error)
    wallet = services.wallet_of(dialog.customer)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": dialog.title,
        "dialog": dialog,
        "form": form,
        "customer": dialog.customer,
        "rooms": room_names(dialog.customer),
        "wallet": wallet,
        "sentence": sentence,
        "details": details,
        "statement_url": reverse("admin:ledger_statement", args=[dialog.customer.pk]),
        **dialog.context,
    }
    return TemplateResponse(request, "ledger/dialog.html", context)


def dialog_form(form_class, request, **initial) -> forms.Form:
    if request.method == "POST":
        return form_class(request.POST)
    return form_class(initial=initial)


# -- transactions --------------------------------------------------------------------------------


class DayRangeFilter(RangeDateFilter):
    """From and to days of a time field, both included."""

    def queryset(self, request, queryset):
        filters = {}
        for suffix, lookup in (("_from", "gte"), ("_to", "lte")):
            value = self.used_parameters.get(f"{self.parameter_name}{suffix}")
            if value:
                day = parse_date_str(value)
                if day is None:
                    return queryset.none()
                filters[f"{self.parameter_name}__date__{lookup}"] = day
        return queryset.filter(**filters)


class EntryInline(TabularInline):
    model = Entry
    fields = ["account_name", "amount", "balance_after"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    hide_title = True
    verbose_name_plural = _("entries")

    @admin.display(description=_("account"))
    def account_name(self, obj):
        return str(obj.account)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account__customer")

    def has_view_permission(self, request, obj=None) -> bool:
        return True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Transaction)
class TransactionAdmin(ScopedReadOnlyAdmin):
    list_display = [
        "created_at",
        "kind",
        "customer",
        "amount",
        "channel",
        "utility",
        "operator",
        "reason",
        "reverses",
    ]
    list_filter = ["kind", "channel", "utility", ("created_at", DayRangeFilter)]
    search_fields = ["customer__name"]
    list_select_related = ["customer", "operator", "reverses"]
    fields = [
        "created_at",
        "kind",
        "customer",
        "amount",
        "channel",
        "utility",
        "operator",
        "reason",
        "reverses",
        "reversed_by_transaction",
    ]
    readonly_fields = fields
    inlines = [EntryInline]
    actions_detail = ["receipt", "reversal"]
    warn_unsaved_form = False

    @admin.display(description=_("reversed by"))
    def reversed_by_transaction(self, obj):
        return Transaction.objects.filter(reverses=obj).first() or ""

    def scoped_transaction(self, request, object_id) -> Transaction:
        queryset = Transaction.objects.select_related(
            "organisation", "customer__organisation", "operator", "reverses"
        ).prefetch_related("entries__account", "customer__rooms__floor__building")
        return console_scope(request).get(queryset, pk=object_id)

    def has_money_operate_permission(self, request, object_id=None) -> bool:
        if object_id is None:
            return console_scope(request).can(MONEY_OPERATE)
        transaction = self.scoped_transaction(request, object_id)
        return console_scope(request).can(MONEY_OPERATE, transaction.organisation_id)

    @action(description=_("Receipt"), url_path="receipt", icon="receipt_long")
    def receipt(self, request, object_id):
        transaction = self.scoped_transaction(request, object_id)
        wallet_entry = wallet_change_of(transaction)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Receipt"),
            "transaction": transaction,
            "organisation": transaction.organisation,
            "customer": transaction.customer,
            "rooms": room_names(transaction.customer),
            "fee": service_fee_of(transaction),
            "wallet_entry": wallet_entry,
            "operator": operator_name(transaction),
            "detail_url": reverse("admin:ledger_transaction_change", args=[transaction.pk]),
            "statement_url": (
                reverse("admin:ledger_statement", args=[transaction.customer_id])
                if transaction.customer_id
                else ""
            ),
        }
        return TemplateResponse(request, "ledger/receipt.html", context)

    @action(
        description=_("Reverse"),
        url_path="reverse",
        icon="undo",
        permissions=["money_operate"],
    )
    def reversal(self, request, object_id):
        original = self.scoped_transaction(request, object_id)
        require_money_operate(request, original.organisation_id)
        if original.customer is None:
            raise Http404
        earlier_reversal = Transaction.objects.filter(reverses=original).first()

        def preview(data):
            wallet_entry = wallet_change_of(original)
            wallet = services.wallet_of(original.customer)
            change = -wallet_entry.amount if wallet_entry else Decimal("0.00")
            balance = wallet.balance if wallet else Decimal("0.00")
            sentence = _(
                "Reverse transaction #%(number)s (%(kind)s of ¥%(amount)s for %(customer)s); "
                "new balance ¥%(balance)s."
            ) % {
                "number": original.pk,
                "kind": original.get_kind_display(),
                "amount": money(original.amount),
                "customer": original.customer,
                "balance": money(balance + change),
            }
            details = [
                (_("Change to the balance"), f"¥{money(change)}"),
                (_("reason"), data["reason"]),
            ]
            return sentence, details

        def perform(data):
            try:
                posted = services.reverse(request.user, original, reason=data["reason"])
            except ServiceError as error:
                reversal = Transaction.objects.filter(reverses=original).first()
                if reversal is None:
                    raise
                self.message_user(request, error.message, messages.WARNING)
                posted = reversal
            return redirect("admin:ledger_transaction_receipt", posted.pk)

        dialog = Dialog(
            name="reversal",
            title=_("Reverse a transaction (冲正)"),
            form=dialog_form(ReversalForm, request),
            customer=original.customer,
            preview=preview,
            perform=perform,
            confirm_label=_("Confirm the reversal"),
            original=original,
            context={
                "original_wallet_entry": wallet_change_of(original),
                "earlier_reversal": earlier_reversal,
            },
        )
        return run_dialog(self, request, dialog)


# -- wallets, statement and the customer dialogs ---------------------------------------------------


@admin.register(Account)
class WalletAdmin(ScopedReadOnlyAdmin):
    """Tenant wallets (accounts of kind wallet). A wallet opens on its statement."""

    list_display = ["customer", "balance", "overdraft_limit", "state", "opened_at", "closed_at"]
    list_filter = ["state"]
    search_fields = ["customer__name", "customer__phone"]
    list_select_related = ["customer"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(kind=AccountKind.WALLET)

    def changelist_view(self, request, extra_context=None):
        extra_context = {"title": _("Tenant wallets"), **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        wallet = self.get_object(request, object_id)
        if wallet is None:
            raise Http404(_("Not found."))
        return redirect("admin:ledger_statement", wallet.customer_id)

    def get_urls(self):
        def customer_path(route, view, name):
            return path(
                f"customer/<int:customer_id>/{route}/",
                self.admin_site.admin_view(view),
                name=name,
            )

        return [
            customer_path("statement", self.statement_view, "ledger_statement"),
            customer_path("top-up", self.topup_view, "ledger_topup"),
            customer_path("refund", self.refund_view, "ledger_refund"),
            customer_path("overdraft-limit", self.overdraft_view, "ledger_overdraft"),
            customer_path("close", self.close_view, "ledger_close"),
            *super().get_urls(),
        ]

    # -- statement -------------------------------------------------------------------------------
    def statement_view(self, request, customer_id: int):
        customer = scoped_customer(request, customer_id)
        wallet = services.wallet_of(customer)
        filters = StatementFilterForm(request.GET or None)
        error = ""
        with timezone.override(customer.organisation.time_zone):
            try:
                entries = statement_entries(customer, request.GET)
            except ServiceError as exc:
                error, entries = exc.message, Entry.objects.none()
            if request.GET.get(EXPORT_PARAM) == "xlsx":
                return statement_workbook(customer, entries)
            page = Paginator(entries, STATEMENT_PAGE_SIZE).get_page(request.GET.get("page"))
            lines = [statement_line(entry) for entry in page.object_list]
        query = request.GET.copy()
        query.pop("page", None)
        query.pop(EXPORT_PARAM, None)
        export_query = query.copy()
        export_query[EXPORT_PARAM] = "xlsx"
        can_operate = console_scope(request).can(MONEY_OPERATE, customer.organisation_id)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Statement of %(customer)s") % {"customer": customer.name},
            "customer": customer,
            "rooms": room_names(customer),
            "wallet": wallet,
            "filters": filters,
            "error": error,
            "page": page,
            "lines": lines,
            "page_query": query.urlencode(),
            "export_query": export_query.urlencode(),
            "buttons": statement_buttons(customer, wallet) if can_operate else [],
            "time_zone": customer.organisation.time_zone,
        }
        return TemplateResponse(request, "ledger/statement.html", context)

    # -- dialogs ---------------------------------------------------------------------------------
    def topup_view(self, request, customer_id: int):
        customer = scoped_customer(request, customer_id)
        require_money_operate(request, customer.organisation_id)

        def preview(data):
            split = split_topup(data["amount"], customer.organisation.topup_fee_percent)
            wallet = services.wallet_of(customer)
            balance = wallet.balance if wallet else Decimal("0.00")
            channel = Channel(data["channel"]).label
            sentence = _(
                "Top up ¥%(amount)s by %(channel)s for %(customer)s; service fee ¥%(fee)s; "
                "new balance ¥%(balance)s."
            ) % {
                "amount": money(data["amount"]),
                "channel": channel,
                "customer": customer.name,
                "fee": money(split.fee),
                "balance": money(balance + split.credit),
            }
            details = [
                (_("Amount paid"), f"¥{money(data['amount'])}"),
                (_("Service fee"), f"¥{money(split.fee)}"),
                (_("Credited to the wallet"), f"¥{money(split.credit)}"),
                (_("Balance now"), f"¥{money(balance)}"),
                (_("Balance after"), f"¥{money(balance + split.credit)}"),
                (_("reason"), data["reason"]),
            ]
            return sentence, details

        def perform(data):
            posted = services.topup(
                request.user,
                customer,
                data["amount"],
                data["channel"],
                idempotency_key=data["idempotency_key"],
                reason=data["reason"],
            )
            return redirect("admin:ledger_transaction_receipt", posted.pk)

        dialog = Dialog(
            name="topup",
            title=_("Top up"),
            form=dialog_form(TopupForm, request, idempotency_key=new_idempotency_key()),
            customer=customer,
            preview=preview,
            perform=perform,
            confirm_label=_("Confirm the top-up"),
        )
        return run_dialog(self, request, dialog)

    def refund_view(self, request, customer_id: int):
        customer = scoped_customer(request, customer_id)
        require_money_operate(request, customer.organisation_id)

        def preview(data):
            wallet = services.wallet_of(customer)
            balance = wallet.balance if wallet else Decimal("0.00")
            if data["amount"] > balance:
                message = _("The refund is larger than the balance (¥%(balance)s).") % {
                    "balance": money(balance)
                }
                raise ServiceError("insufficient_balance", message, {"amount": [message]})
            sentence = _(
                "Refund ¥%(amount)s by %(channel)s to %(customer)s; new balance ¥%(balance)s."
            ) % {
                "amount": money(data["amount"]),
                "channel": Channel(data["channel"]).label,
                "customer": customer.name,
                "balance": money(balance - data["amount"]),
            }
            details = [
                (_("Balance now"), f"¥{money(balance)}"),
                (_("Balance after"), f"¥{money(balance - data['amount'])}"),
                (_("reason"), data["reason"]),
            ]
            return sentence, details

        def perform(data):
            posted = services.refund(
                request.user,
                customer,
                data["amount"],
                data["channel"],
                idempotency_key=data["idempotency_key"],
                reason=data["reason"],
            )
            return redirect("admin:ledger_transaction_receipt", posted.pk)

        dialog = Dialog(
            name="refund",
            title=_("Refund"),
            form=dialog_form(RefundForm, request, idempotency_key=new_idempotency_key()),
            customer=customer,
            preview=preview,
            perform=perform,
            confirm_label=_("Confirm the refund"),
        )
        return run_dialog(self, request, dialog)

    def overdraft_view(self, request, customer_id: int):
        customer = scoped_customer(request, customer_id)
        require_money_operate(request, customer.organisation_id)
        wallet = services.wallet_of(customer)
        current = wallet.overdraft_limit if wallet else Decimal("0.00")

        def preview(data):
            sentence = _(
                "Set the overdraft limit of %(customer)s from ¥%(old)s to ¥%(new)s: the balance "
                "may then go down to ¥-%(new)s before supply is cut."
            ) % {
                "customer": customer.name,
                "old": money(current),
                "new": money(data["overdraft_limit"]),
            }
            return sentence, [(_("reason"), data["reason"])]

        def perform(data):
            services.set_overdraft_limit(
                request.user, customer, data["overdraft_limit"], reason=data["reason"]
            )
            self.message_user(request, _("The overdraft limit was changed."), messages.SUCCESS)
            return redirect("admin:ledger_statement", customer.pk)

        dialog = Dialog(
            name="overdraft",
            title=_("Overdraft limit"),
            form=dialog_form(OverdraftForm, request, overdraft_limit=current),
            customer=customer,
            preview=preview,
            perform=perform,
            confirm_label=_("Confirm the new limit"),
        )
        return run_dialog(self, request, dialog)

    def close_view(self, request, customer_id: int):
        customer = scoped_customer(request, customer_id)
        require_money_operate(request, customer.organisation_id)

        def preview(data):
            wallet = services.wallet_of(customer)
            balance = wallet.balance if wallet else Decimal("0.00")
            if balance < 0:
                raise ServiceError(
                    "arrears",
                    _("The tenant owes ¥%(amount)s; settle the arrears before closing.")
                    % {"amount": money(-balance)},
                )
            sentence = _(
                "Close the account of %(customer)s and refund the balance of ¥%(balance)s by "
                "%(channel)s. No more top-ups or charges can be posted afterwards."
            ) % {
                "customer": customer.name,
                "balance": money(balance),
                "channel": Channel(data["channel"]).label,
            }
            return sentence, [(_("reason"), data["reason"])]

        def perform(data):
            wallet = services.wallet_of(customer)
            if wallet is not None and wallet.state == AccountState.CLOSED:
                self.message_user(request, _("This account is closed."), messages.WARNING)
                return redirect("admin:ledger_statement", customer.pk)
            settlement = services.close_account(
                request.user, customer, data["channel"], reason=data["reason"]
            )
            if settlement is None:
                self.message_user(request, _("The account was closed."), messages.SUCCESS)
                return redirect("admin:ledger_statement", customer.pk)
            return redirect("admin:ledger_transaction_receipt", settlement.pk)

        dialog = Dialog(
            name="close",
            title=_("Close the account"),
            form=dialog_form(CloseForm, request),
            customer=customer,
            preview=preview,
            perform=perform,
            confirm_label=_("Close the account"),
        )
        return run_dialog(self, request, dialog)


def statement_buttons(customer: Customer, wallet: Account | None) -> list[dict]:
    """The dialogs that can be opened from a statement, given the wallet's state."""
    if wallet is not None and wallet.state == AccountState.CLOSED:
        return []
    buttons = [
        {
            "name": "topup",
            "url_name": "admin:ledger_topup",
            "icon": "add_card",
            "label": _("Top up"),
        },
    ]
    if wallet is not None:
        buttons.append(
            {
                "name": "refund",
                "url_name": "admin:ledger_refund",
                "icon": "payments",
                "label": _("Refund"),
            }
        )
    buttons.append(
        {
            "name": "overdraft",
            "url_name": "admin:ledger_overdraft",
            "icon": "credit_score",
            "label": _("Overdraft limit"),
        }
    )
    if wallet is not None:
        buttons.append(
            {
                "name": "close",
                "url_name": "admin:ledger_close",
                "icon": "block",
                "label": _("Close the account"),
            }
        )
    for button in buttons:
        button["url"] = reverse(button.pop("url_name"), args=[customer.pk])
    return buttons


def statement_line(entry: Entry) -> dict:
    """One statement row, for the page and the Excel file (times in the current time zone)."""
    transaction = entry.transaction
    return {
        "time": timezone.localtime(transaction.created_at),
        "transaction": transaction.pk,
        "kind": transaction.get_kind_display(),
        "channel": transaction.get_channel_display(),
        "utility": transaction.get_utility_display(),
        "reason": transaction.reason,
        "operator": operator_name(transaction),
        "amount": entry.amount,
        "balance_after": entry.balance_after,
    }


STATEMENT_COLUMNS = [
    ("time", _("time")),
    ("transaction", _("transaction")),
    ("kind", _("kind")),
    ("channel", _("channel")),
    ("utility", _("utility")),
    ("reason", _("reason")),
    ("operator", _("operator")),
    ("amount", _("amount")),
    ("balance_after", _("balance after")),
]


def statement_workbook(customer: Customer, entries) -> HttpResponse:
    rows = (
        [line[key] for key, _label in STATEMENT_COLUMNS]
        for line in map(statement_line, entries.iterator(chunk_size=1000))
    )
    headers = [label for _key, label in STATEMENT_COLUMNS]
    content = workbook_bytes(str(_("Statement")), headers, rows)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return xlsx_response(f"statement-{customer.pk}-{stamp}.xlsx", content)
