"""Every money movement. Each function is one business operation in one database transaction:
it locks the tenant's wallet row, checks, posts a balanced transaction, updates the cached
balance and writes the audit log. Retries with the same idempotency key change nothing."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal, InvalidOperation
from functools import partial

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from submeter.customers.models import Customer, CustomerState
from submeter.engine import split_topup
from submeter.errors import Conflict, ServiceError
from submeter.ledger.choices import (
    CHANNEL_ACCOUNT,
    REVENUE_ACCOUNT,
    AccountKind,
    AccountState,
    Channel,
    TransactionKind,
    Utility,
)
from submeter.ledger.models import Account, Entry, Transaction
from submeter.ledger.signals import balance_changed
from submeter.tenancy.audit import record

MAX_AMOUNT = Decimal("100000000")  # ¥100 million: anything larger is a typing error


def parse_amount(value, field: str = "amount", *, allow_negative: bool = False) -> Decimal:
    """A yuan amount: a decimal with at most two places, non-zero (and positive unless allowed)."""
    try:
        amount = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError):
        amount = None
    if isinstance(value, float) or amount is None or not amount.is_finite():
        raise ServiceError(
            "invalid",
            _("Enter an amount in yuan, e.g. 100.00."),
            {field: [_("Enter an amount in yuan, e.g. 100.00.")]},
        )
    if abs(amount) > MAX_AMOUNT:  # first: a huge amount cannot be quantized to the fen
        message = _("The amount is too large.")
        raise ServiceError("invalid", message, {field: [message]})
    if amount != amount.quantize(Decimal("0.01")):
        message = _("At most two decimal places (whole fen).")
        raise ServiceError("invalid", message, {field: [message]})
    if amount == 0 or (amount < 0 and not allow_negative):
        message = (
            _("The amount must be greater than zero.")
            if not allow_negative
            else _("The amount must not be zero.")
        )
        raise ServiceError("invalid", message, {field: [message]})
    return amount.quantize(Decimal("0.01"))


def _fingerprint(**fields) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def system_account(organisation_id: int, kind: str) -> Account:
    account = Account.objects.filter(
        organisation_id=organisation_id, kind=kind, customer=None
    ).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return Account.objects.create(organisation_id=organisation_id, kind=kind)
    except IntegrityError:
        return Account.objects.get(organisation_id=organisation_id, kind=kind, customer=None)


def wallet_of(customer: Customer) -> Account | None:
    return Account.objects.filter(customer=customer, kind=AccountKind.WALLET).first()


def _locked_wallet(customer: Customer, *, create: bool = True) -> Account:
    """The customer's wallet, locked for this transaction (opened on first use)."""
    wallet = (
        Account.objects.select_for_update()
        .filter(customer=customer, kind=AccountKind.WALLET)
        .first()
    )
    if wallet is None:
        if not create:
            raise ServiceError("no_account", _("This customer has no account."), status=404)
        try:
            with transaction.atomic():
                Account.objects.create(
                    organisation_id=customer.organisation_id,
                    customer=customer,
                    kind=AccountKind.WALLET,
                )
        except IntegrityError:
            pass
        wallet = Account.objects.select_for_update().get(customer=customer, kind=AccountKind.WALLET)
    return wallet


def _replayed(organisation_id: int, key: str | None, fingerprint: str) -> Transaction | None:
    """The transaction an earlier request with this key made; 409 if that request was different."""
    if not key:
        return None
    earlier = Transaction.objects.filter(
        organisation_id=organisation_id, idempotency_key=key
    ).first()
    if earlier is not None and earlier.request_fingerprint != fingerprint:
        raise Conflict(
            "idempotency_key_reused",
            _("This idempotency key was already used for a different request."),
            {"idempotency_key": [_("Already used for a different request.")]},
        )
    return earlier


def _post(
    *,
    organisation_id: int,
    kind: str,
    amount: Decimal,
    entries: list[tuple[Account, Decimal]],
    wallet: Account | None,
    actor=None,
    customer: Customer | None = None,
    key: str | None = None,
    fingerprint: str = "",
    **fields,
) -> Transaction:
    """Write a balanced transaction and move the wallet's cached balance, or nothing at all."""
    if sum((value for _account, value in entries), Decimal("0")) != 0:
        raise AssertionError("unbalanced transaction")
    try:
        with transaction.atomic():
            posted = Transaction.objects.create(
                organisation_id=organisation_id,
                kind=kind,
                customer=customer,
                amount=amount,
                idempotency_key=key or None,
                request_fingerprint=fingerprint,
                operator=actor if getattr(actor, "pk", None) else None,
                **fields,
            )
    except IntegrityError:
        # A concurrent request with the same key won the race (its wallet was another one).
        earlier = _replayed(organisation_id, key, fingerprint)
        if earlier is None:
            raise
        return earlier
    rows = []
    for account, value in entries:
        balance_after = floor = None
        if wallet is not None and account.pk == wallet.pk:
            wallet.balance += value
            balance_after, floor = wallet.balance, wallet.floor
        rows.append(
            Entry(
                transaction=posted,
                account=account,
                amount=value,
                balance_after=balance_after,
                floor_at_posting=floor,
            )
        )
    Entry.objects.bulk_create(rows)
    if wallet is not None:
        Account.objects.filter(pk=wallet.pk).update(balance=wallet.balance)
        if wallet.customer_id is not None:
            transaction.on_commit(
                partial(
                    balance_changed.send,
                    sender=Account,
                    customer_id=wallet.customer_id,
                    transaction_id=posted.pk,
                )
            )
    record(
        actor,
        f"ledger.{kind}",
        posted,
        after={
            "amount": str(amount),
            "customer": customer.pk if customer else None,
            "entries": [[account.kind, str(value)] for account, value in entries],
        },
    )
    return posted


def _require_open(wallet: Account) -> None:
    if wallet.state != AccountState.OPEN:
        raise ServiceError("account_closed", _("This account is closed."), status=409)


def _channel(channel: str) -> str:
    if channel not in Channel.values:
        message = _("Unknown payment channel.")
        raise ServiceError("invalid", message, {"channel": [message]})
    return channel


@transaction.atomic
def topup(
    actor,
    customer: Customer,
    amount,
    channel: str,
    *,
    idempotency_key: str | None = None,
    reason: str = "",
    fee_percent: Decimal | None = None,
) -> Transaction:
    """Credit the tenant's wallet with what they paid, less the organisation's service fee."""
    amount = parse_amount(amount)
    channel = _channel(channel)
    fingerprint = _fingerprint(
        kind="topup", customer=customer.pk, amount=str(amount), channel=channel
    )
    wallet = _locked_wallet(customer)
    earlier = _replayed(customer.organisation_id, idempotency_key, fingerprint)
    if earlier is not None:
        return earlier
    _require_open(wallet)
    if fee_percent is None:
        fee_percent = customer.organisation.topup_fee_percent
    split = split_topup(amount, Decimal(fee_percent))
    entries = [
        (wallet, split.credit),
        (system_account(customer.organisation_id, CHANNEL_ACCOUNT[channel]), -amount),
    ]
    if split.fee:
        entries.append(
            (system_account(customer.organisation_id, AccountKind.SERVICE_FEE), split.fee)
        )
    return _post(
        organisation_id=customer.organisation_id,
        kind=TransactionKind.TOPUP,
        amount=amount,
        entries=entries,
        wallet=wallet,
        actor=actor,
        customer=customer,
        key=idempotency_key,
        fingerprint=fingerprint,
        channel=channel,
        reason=reason[:200],
    )


@transaction.atomic
def refund(
    actor,
    customer: Customer,
    amount,
    channel: str,
    *,
    reason: str = "",
    idempotency_key: str | None = None,
    kind: str = TransactionKind.REFUND,
) -> Transaction:
    """Pay money back to the tenant; never more than the wallet holds."""
    amount = parse_amount(amount)
    channel = _channel(channel)
    fingerprint = _fingerprint(kind=kind, customer=customer.pk, amount=str(amount), channel=channel)
    wallet = _locked_wallet(customer, create=False)
    earlier = _replayed(customer.organisation_id, idempotency_key, fingerprint)
    if earlier is not None:
        return earlier
    if kind == TransactionKind.REFUND:
        _require_open(wallet)
    if amount > wallet.balance:
        message = _("The refund is larger than the balance (¥%(balance)s).") % {
            "balance": wallet.balance
        }
        raise ServiceError("insufficient_balance", message, {"amount": [message]}, status=409)
    return _post(
        organisation_id=customer.organisation_id,
        kind=kind,
        amount=amount,
        entries=[
            (wallet, -amount),
            (system_account(customer.organisation_id, CHANNEL_ACCOUNT[channel]), amount),
        ],
        wallet=wallet,
        actor=actor,
        customer=customer,
        key=idempotency_key,
        fingerprint=fingerprint,
        channel=channel,
        reason=reason[:200],
    )


@transaction.atomic
def charge(
    actor,
    customer: Customer,
    amount,
    utility: str,
    *,
    idempotency_key: str,
    reason: str = "",
) -> Transaction:
    """Debit the wallet for consumption or a fee and credit revenue. Keyed so it posts once.

    A charge may take the wallet below its floor: consumption has already happened, and the
    prepaid policy answers with alarms and a cut-off.
    """
    amount = parse_amount(amount)
    if utility not in Utility.values and utility != "fees":
        message = _("Unknown utility.")
        raise ServiceError("invalid", message, {"utility": [message]})
    fingerprint = _fingerprint(
        kind="charge", customer=customer.pk, amount=str(amount), utility=utility
    )
    wallet = _locked_wallet(customer)
    earlier = _replayed(customer.organisation_id, idempotency_key, fingerprint)
    if earlier is not None:
        return earlier
    revenue = REVENUE_ACCOUNT.get(utility, AccountKind.REVENUE_FEES)
    return _post(
        organisation_id=customer.organisation_id,
        kind=TransactionKind.CHARGE,
        amount=amount,
        entries=[(wallet, -amount), (system_account(customer.organisation_id, revenue), amount)],
        wallet=wallet,
        actor=actor,
        customer=customer,
        key=idempotency_key,
        fingerprint=fingerprint,
        utility=utility if utility in Utility.values else "",
        reason=reason[:200],
    )


@transaction.atomic
def adjust(
    actor, customer: Customer, amount, *, reason: str, idempotency_key: str | None = None
) -> Transaction:
    """Credit (positive) or debit (negative) the wallet against the adjustments account."""
    amount = parse_amount(amount, allow_negative=True)
    if not reason.strip():
        message = _("Give the reason for the adjustment.")
        raise ServiceError("invalid", message, {"reason": [message]})
    fingerprint = _fingerprint(kind="adjustment", customer=customer.pk, amount=str(amount))
    wallet = _locked_wallet(customer)
    earlier = _replayed(customer.organisation_id, idempotency_key, fingerprint)
    if earlier is not None:
        return earlier
    _require_open(wallet)
    if amount < 0 and wallet.balance + amount < wallet.floor:
        message = _("This would take the balance below its floor (¥%(floor)s).") % {
            "floor": wallet.floor
        }
        raise ServiceError("insufficient_balance", message, {"amount": [message]}, status=409)
    return _post(
        organisation_id=customer.organisation_id,
        kind=TransactionKind.ADJUSTMENT,
        amount=amount,
        entries=[
            (wallet, amount),
            (system_account(customer.organisation_id, AccountKind.ADJUSTMENT), -amount),
        ],
        wallet=wallet,
        actor=actor,
        customer=customer,
        key=idempotency_key,
        fingerprint=fingerprint,
        reason=reason[:200],
    )


@transaction.atomic
def reverse(actor, original: Transaction, *, reason: str) -> Transaction:
    """冲正: post the mirror image of an earlier transaction, once."""
    if not reason.strip():
        message = _("Give the reason for the reversal.")
        raise ServiceError("invalid", message, {"reason": [message]})
    wallet = _locked_wallet(original.customer, create=False) if original.customer_id else None
    original = Transaction.objects.get(pk=original.pk)
    if Transaction.objects.filter(reverses=original).exists():
        raise Conflict("already_reversed", _("This transaction has already been reversed."))
    mirror = [
        (entry.account, -entry.amount) for entry in original.entries.select_related("account")
    ]
    if wallet is not None:
        change = sum((value for account, value in mirror if account.pk == wallet.pk), Decimal("0"))
        if change < 0 and wallet.balance + change < wallet.floor:
            message = _(
                "Reversing would take the balance below its floor (¥%(floor)s); "
                "the tenant has already spent this money. Use an adjustment instead."
            ) % {"floor": wallet.floor}
            raise ServiceError("insufficient_balance", message, status=409)
    try:
        return _post(
            organisation_id=original.organisation_id,
            kind=TransactionKind.REVERSAL,
            amount=original.amount,
            entries=mirror,
            wallet=wallet,
            actor=actor,
            customer=original.customer,
            reverses=original,
            channel=original.channel,
            utility=original.utility,
            reason=reason[:200],
        )
    except IntegrityError as exc:
        raise Conflict(
            "already_reversed", _("This transaction has already been reversed.")
        ) from exc


@transaction.atomic
def set_overdraft_limit(actor, customer: Customer, limit, *, reason: str = "") -> Account:
    """E4: how far below zero the tenant may go before supply is cut."""
    try:
        limit = Decimal(str(limit).strip()) if limit not in (None, "") else None
    except InvalidOperation:
        limit = None
    if (
        limit is None
        or not limit.is_finite()
        or limit < 0
        or limit > MAX_AMOUNT
        or limit != limit.quantize(Decimal("0.01"))
    ):
        message = _("Enter an amount of zero or more, with at most two decimals.")
        raise ServiceError("invalid", message, {"overdraft_limit": [message]})
    wallet = _locked_wallet(customer)
    before = str(wallet.overdraft_limit)
    Account.objects.filter(pk=wallet.pk).update(overdraft_limit=limit)
    wallet.overdraft_limit = limit
    record(
        actor,
        "ledger.overdraft_limit",
        wallet,
        before={"overdraft_limit": before},
        after={"overdraft_limit": str(limit), "reason": reason[:200]},
    )
    return wallet


@transaction.atomic
def open_account(actor, customer: Customer, *, reason: str = "") -> Account:
    """E1: open (or reopen) the tenant's wallet."""
    wallet = _locked_wallet(customer)
    if wallet.state != AccountState.OPEN:
        Account.objects.filter(pk=wallet.pk).update(state=AccountState.OPEN, closed_at=None)
        wallet.state, wallet.closed_at = AccountState.OPEN, None
        record(
            actor, "ledger.open", wallet, after={"state": AccountState.OPEN, "reason": reason[:200]}
        )
    if customer.state != CustomerState.ACTIVE:
        Customer.objects.filter(pk=customer.pk).update(state=CustomerState.ACTIVE)
    return wallet


@transaction.atomic
def close_account(
    actor, customer: Customer, channel: str, *, reason: str = ""
) -> Transaction | None:
    """E1: settle and close — refund the whole balance through `channel`; refuse with arrears."""
    wallet = _locked_wallet(customer)
    _require_open(wallet)
    if wallet.balance < 0:
        message = _("The tenant owes ¥%(amount)s; settle the arrears before closing.") % {
            "amount": -wallet.balance
        }
        raise ServiceError("arrears", message, status=409)
    settlement = None
    if wallet.balance > 0:
        settlement = refund(
            actor,
            customer,
            wallet.balance,
            channel,
            reason=reason or _("Account closed"),
            kind=TransactionKind.SETTLEMENT,
        )
    now = timezone.now()
    Account.objects.filter(pk=wallet.pk).update(state=AccountState.CLOSED, closed_at=now)
    Customer.objects.filter(pk=customer.pk).update(state=CustomerState.CLOSED)
    record(
        actor,
        "ledger.close",
        wallet,
        before={"state": AccountState.OPEN},
        after={"state": AccountState.CLOSED, "reason": reason[:200]},
    )
    return settlement
