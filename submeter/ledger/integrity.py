"""The ledger audit of RELIABILITY.md: `submeter audit` and GET /api/v1/ledger/audit/ run it.

Each check answers with the rows that violate it; an empty list means it holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Count, F, Q, Sum, Window
from django.db.models.functions import Lag

from submeter.billing.models import UsageCharge
from submeter.control.models import RELAY_ACTIONS, Command
from submeter.ledger.choices import AccountKind, TransactionKind
from submeter.ledger.models import Account, Entry, Transaction


@dataclass
class Check:
    name: str
    description: str
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


@dataclass
class LedgerAudit:
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "checks": [
                {
                    "name": c.name,
                    "description": c.description,
                    "ok": c.ok,
                    "violations": c.violations[:100],
                }
                for c in self.checks
            ],
        }


def audit_ledger(organisation_ids: Iterable[int] | None = None) -> LedgerAudit:
    transactions = Transaction.objects.all()
    entries = Entry.objects.all()
    accounts = Account.objects.all()
    if organisation_ids is not None:
        ids = list(organisation_ids)
        transactions = transactions.filter(organisation_id__in=ids)
        entries = entries.filter(transaction__organisation_id__in=ids)
        accounts = accounts.filter(organisation_id__in=ids)

    balanced = Check("transactions_balance", "Every transaction's entries sum to zero.")
    for row in (
        transactions.annotate(total=Sum("entries__amount"), count=Count("entries"))
        .filter(~Q(total=0) | Q(count=0))
        .values("pk", "total")
    ):
        balanced.violations.append(f"transaction {row['pk']}: entries sum to {row['total']}")

    zero = Check("ledger_sums_to_zero", "All entries of each organisation sum to zero.")
    for row in (
        entries.values("transaction__organisation_id")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
    ):
        zero.violations.append(
            f"organisation {row['transaction__organisation_id']}: {row['total']}"
        )

    cached = Check(
        "wallet_balance_cached", "Every wallet's cached balance equals the sum of its entries."
    )
    sums = dict(
        entries.filter(account__kind=AccountKind.WALLET)
        .values_list("account_id")
        .annotate(Sum("amount"))
    )
    for wallet_id, balance in accounts.filter(kind=AccountKind.WALLET).values_list("pk", "balance"):
        derived = sums.get(wallet_id) or 0
        if balance != derived:
            cached.violations.append(f"wallet {wallet_id}: cached {balance}, entries {derived}")

    floor = Check(
        "wallet_floor",
        "No top-up, refund, adjustment or reversal left a wallet below its floor "
        "(consumption charges may, and the prepaid policy then cuts supply).",
    )
    below = (
        entries.filter(
            account__kind=AccountKind.WALLET,
            amount__lt=0,
            floor_at_posting__isnull=False,
            balance_after__lt=F("floor_at_posting"),
        )
        .exclude(transaction__kind=TransactionKind.CHARGE)
        .values_list("transaction_id", "account_id", "balance_after")
    )
    for transaction_id, account_id, balance_after in below:
        floor.violations.append(
            f"transaction {transaction_id} left wallet {account_id} at {balance_after}"
        )

    keys = Check(
        "idempotency_keys_once",
        "Each idempotency key (payment, reading, request) is posted at most once.",
    )
    for row in (
        transactions.exclude(idempotency_key=None)
        .values("organisation_id", "idempotency_key")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    ):
        keys.violations.append(f"key {row['idempotency_key']} posted {row['n']} times")

    reversals = Check("reversed_once", "A transaction is reversed at most once.")
    for row in (
        transactions.exclude(reverses=None)
        .values("reverses_id")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    ):
        reversals.violations.append(f"transaction {row['reverses_id']} reversed {row['n']} times")

    readings = Check(
        "readings_charged_once",
        "Each reading interval of a meter is charged at most once (its usage charges never "
        "overlap).",
    )
    charges = UsageCharge.objects.all()
    if organisation_ids is not None:
        charges = charges.filter(organisation_id__in=ids)
    overlapping = (
        charges.annotate(
            previous_end=Window(
                Lag("interval_end"),
                partition_by=[F("meter_id")],
                order_by=[F("interval_end").asc(), F("id").asc()],
            )
        )
        .filter(previous_end__gt=F("interval_start"))
        .values_list("pk", "meter_id", "interval_start", "previous_end")
    )
    for charge_id, meter_id, start, previous_end in overlapping:
        readings.violations.append(
            f"usage charge {charge_id} of meter {meter_id} starts {start.isoformat()}, "
            f"before the previous one ends ({previous_end.isoformat()})"
        )

    causes = Check(
        "commands_have_cause", "Every relay command records its cause (a rule or a reason)."
    )
    commands = Command.objects.filter(action__in=RELAY_ACTIONS)
    if organisation_ids is not None:
        commands = commands.filter(organisation_id__in=ids)
    for command_id, cause, reason in commands.values_list("pk", "cause", "reason").iterator():
        if not (isinstance(cause, dict) and cause.get("rule")) and not reason.strip():
            causes.violations.append(f"command {command_id} has neither a rule nor a reason")

    guarded = Check(
        "append_only_guard", "Ledger rows cannot be updated or deleted (database trigger)."
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT event_object_table FROM information_schema.triggers "
                "WHERE trigger_name LIKE %s GROUP BY event_object_table",
                ["%_append_only"],
            )
            present = {row[0] for row in cursor.fetchall()}
        for table in ("ledger_transaction", "ledger_entry"):
            if table not in present:
                guarded.violations.append(f"{table} has no append-only trigger")

    return LedgerAudit([balanced, zero, cached, floor, keys, reversals, readings, causes, guarded])
