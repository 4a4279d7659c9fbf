"""Money in the API: accounts, top-ups, refunds, adjustments, reversals, statements, audit.

Money-moving POSTs take an `Idempotency-Key` header; a retry with the same key and body answers
exactly as the first time, with another body 409.
"""

from __future__ import annotations

from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from submeter.api.fields import AmountField
from submeter.customers.models import Customer
from submeter.errors import ServiceError
from submeter.ledger import services
from submeter.ledger.choices import AccountKind, Channel
from submeter.ledger.integrity import audit_ledger
from submeter.ledger.models import Account, Entry, Transaction
from submeter.tenancy.roles import MEMBERS_MANAGE, MONEY_OPERATE, VIEW
from submeter.tenancy.scoping import scope_for_request

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="Retry-safe key; same key + same body = same answer.",
)


class EntrySerializer(serializers.ModelSerializer):
    account = serializers.CharField(source="account.kind")
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    balance_after = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)

    class Meta:
        model = Entry
        fields = ["account", "amount", "balance_after"]


class TransactionSerializer(serializers.ModelSerializer):
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    operator = serializers.CharField(source="operator.username", default=None)
    entries = EntrySerializer(many=True)
    balance_after = serializers.SerializerMethodField()
    reversed_by = serializers.SerializerMethodField()

    class Meta:
        model = Transaction
        fields = [
            "id",
            "kind",
            "organisation",
            "customer",
            "amount",
            "channel",
            "utility",
            "reason",
            "operator",
            "created_at",
            "reverses",
            "reversed_by",
            "balance_after",
            "entries",
        ]

    def get_balance_after(self, obj) -> str | None:
        for entry in obj.entries.all():
            if entry.account.kind == AccountKind.WALLET:
                return str(entry.balance_after)
        return None

    def get_reversed_by(self, obj) -> int | None:
        reversal = Transaction.objects.filter(reverses=obj).values_list("pk", flat=True).first()
        return reversal


class AccountSerializer(serializers.ModelSerializer):
    balance = serializers.DecimalField(max_digits=14, decimal_places=2)
    overdraft_limit = serializers.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        model = Account
        fields = ["id", "customer", "balance", "overdraft_limit", "state", "opened_at", "closed_at"]


class MoneyInput(serializers.Serializer):
    amount = AmountField()
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class ReasonInput(serializers.Serializer):
    reason = serializers.CharField(max_length=200)


class OverdraftInput(serializers.Serializer):
    overdraft_limit = AmountField()
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class CloseInput(serializers.Serializer):
    channel = serializers.ChoiceField(choices=Channel.choices)
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


def _with_entries(queryset):
    return queryset.select_related("operator").prefetch_related("entries__account")


class CustomerMoneyView(APIView):
    """Base of /api/v1/customers/{id}/…: the customer in the caller's scope, or 404."""

    change_permission = MONEY_OPERATE
    permission_classes = [IsAuthenticated]

    def customer(self, request, customer_id: int, permission: str) -> Customer:
        scope = scope_for_request(request)
        customer = scope.get(Customer.objects.select_related("organisation"), pk=customer_id)
        if not scope.can(permission, customer.organisation_id):
            raise PermissionDenied
        return customer

    def answer(self, posted: Transaction, created: bool = True) -> Response:
        posted = _with_entries(Transaction.objects).get(pk=posted.pk)
        return Response(
            TransactionSerializer(posted).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class TopupView(CustomerMoneyView):
    @extend_schema(
        request=MoneyInput, responses={201: TransactionSerializer}, parameters=[IDEMPOTENCY_HEADER]
    )
    def post(self, request, customer_id: int):
        customer = self.customer(request, customer_id, MONEY_OPERATE)
        data = MoneyInput(data=request.data)
        data.is_valid(raise_exception=True)
        if "channel" not in data.validated_data:
            raise ServiceError(
                "invalid",
                _("Choose the payment channel."),
                {"channel": [_("This field is required.")]},
            )
        posted = services.topup(
            request.user,
            customer,
            data.validated_data["amount"],
            data.validated_data["channel"],
            idempotency_key=request.headers.get("Idempotency-Key") or None,
            reason=data.validated_data["reason"],
        )
        return self.answer(posted)


class RefundView(CustomerMoneyView):
    @extend_schema(
        request=MoneyInput, responses={201: TransactionSerializer}, parameters=[IDEMPOTENCY_HEADER]
    )
    def post(self, request, customer_id: int):
        customer = self.customer(request, customer_id, MONEY_OPERATE)
        data = MoneyInput(data=request.data)
        data.is_valid(raise_exception=True)
        posted = services.refund(
            request.user,
            customer,
            data.validated_data["amount"],
            data.validated_data.get("channel", Channel.CASH),
            reason=data.validated_data["reason"],
            idempotency_key=request.headers.get("Idempotency-Key") or None,
        )
        return self.answer(posted)


class AdjustmentView(CustomerMoneyView):
    @extend_schema(
        request=MoneyInput, responses={201: TransactionSerializer}, parameters=[IDEMPOTENCY_HEADER]
    )
    def post(self, request, customer_id: int):
        customer = self.customer(request, customer_id, MONEY_OPERATE)
        data = MoneyInput(data=request.data)
        data.is_valid(raise_exception=True)
        posted = services.adjust(
            request.user,
            customer,
            data.validated_data["amount"],
            reason=data.validated_data["reason"],
            idempotency_key=request.headers.get("Idempotency-Key") or None,
        )
        return self.answer(posted)


class AccountView(CustomerMoneyView):
    @extend_schema(responses={200: AccountSerializer})
    def get(self, request, customer_id: int):
        customer = self.customer(request, customer_id, VIEW)
        wallet = services.wallet_of(customer)
        if wallet is None:
            raise ServiceError("no_account", _("This customer has no account."), status=404)
        return Response(AccountSerializer(wallet).data)

    @extend_schema(request=OverdraftInput, responses={200: AccountSerializer})
    def patch(self, request, customer_id: int):
        customer = self.customer(request, customer_id, MONEY_OPERATE)
        data = OverdraftInput(data=request.data)
        data.is_valid(raise_exception=True)
        wallet = services.set_overdraft_limit(
            request.user,
            customer,
            data.validated_data["overdraft_limit"],
            reason=data.validated_data["reason"],
        )
        wallet.refresh_from_db()
        return Response(AccountSerializer(wallet).data)


class OpenAccountView(CustomerMoneyView):
    @extend_schema(request=None, responses={200: AccountSerializer})
    def post(self, request, customer_id: int):
        customer = self.customer(request, customer_id, MONEY_OPERATE)
        wallet = services.open_account(request.user, customer)
        wallet.refresh_from_db()
        return Response(AccountSerializer(wallet).data)


class CloseAccountView(CustomerMoneyView):
    @extend_schema(request=CloseInput, responses={200: AccountSerializer})
    def post(self, request, customer_id: int):
        customer = self.customer(request, customer_id, MONEY_OPERATE)
        data = CloseInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.close_account(
            request.user,
            customer,
            data.validated_data["channel"],
            reason=data.validated_data["reason"],
        )
        return Response(AccountSerializer(services.wallet_of(customer)).data)


class StatementView(CustomerMoneyView):
    """The tenant's statement: wallet entries, newest first, each with the balance after it."""

    @extend_schema(
        parameters=[
            OpenApiParameter("from", str, description="first day, YYYY-MM-DD"),
            OpenApiParameter("to", str, description="last day, YYYY-MM-DD"),
            OpenApiParameter("kind", str),
        ]
    )
    def get(self, request, customer_id: int):
        from submeter.api.pagination import Pagination

        customer = self.customer(request, customer_id, VIEW)
        entries = statement_entries(customer, request.query_params)
        paginator = Pagination()
        page = paginator.paginate_queryset(entries, request, view=self)
        rows = [statement_row(entry) for entry in page]
        return paginator.get_paginated_response(rows)


def statement_entries(customer: Customer, params):
    entries = (
        Entry.objects.filter(account__customer=customer, account__kind=AccountKind.WALLET)
        .select_related("transaction__operator")
        .order_by("-id")
    )
    errors = {}
    for name, lookup in (
        ("from", "transaction__created_at__date__gte"),
        ("to", "transaction__created_at__date__lte"),
    ):
        if params.get(name):
            day = parse_date(params[name]) if _looks_like_date(params[name]) else None
            if day is None:
                errors[name] = [_("Use the date format YYYY-MM-DD.")]
            else:
                entries = entries.filter(**{lookup: day})
    if params.get("kind"):
        entries = entries.filter(transaction__kind=params["kind"])
    if errors:
        raise ServiceError("invalid", next(iter(errors.values()))[0], errors)
    return entries


def _looks_like_date(text: str) -> bool:
    return len(text) == 10 and text[4] == "-" and text[7] == "-"


def statement_row(entry: Entry) -> dict:
    transaction = entry.transaction
    return {
        "entry": entry.pk,
        "transaction": transaction.pk,
        "time": transaction.created_at.isoformat(),
        "kind": transaction.kind,
        "channel": transaction.channel,
        "utility": transaction.utility,
        "reason": transaction.reason,
        "operator": transaction.operator.username if transaction.operator_id else None,
        "amount": str(entry.amount),
        "balance_after": str(entry.balance_after),
    }


class TransactionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Every money movement of the caller's organisations; `POST …/{id}/reverse/` posts 冲正."""

    serializer_class = TransactionSerializer
    change_permission = MONEY_OPERATE
    filterset_fields = ["organisation", "customer", "kind", "channel", "utility"]
    ordering_fields = ["created_at", "id", "amount"]

    def get_queryset(self):
        return scope_for_request(self.request).filter(_with_entries(Transaction.objects))

    def object_organisation_id(self, obj) -> int:
        return obj.organisation_id

    @extend_schema(request=ReasonInput, responses={201: TransactionSerializer})
    @action(detail=True, methods=["post"])
    def reverse(self, request, pk=None):
        original = self.get_object()
        data = ReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        posted = services.reverse(request.user, original, reason=data.validated_data["reason"])
        posted = _with_entries(Transaction.objects).get(pk=posted.pk)
        return Response(TransactionSerializer(posted).data, status=status.HTTP_201_CREATED)


class LedgerAuditView(APIView):
    """The ledger audit of RELIABILITY.md over the organisations the caller administers."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={200: dict})
    def get(self, request):
        organisations = scope_for_request(request).organisations_allowing(MEMBERS_MANAGE)
        if not organisations:
            raise PermissionDenied
        report = audit_ledger(organisations)
        return Response(report.as_dict(), status=200 if report.ok else 409)
