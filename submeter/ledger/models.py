"""The double-entry ledger: accounts, transactions, entries.

Transactions and entries are append-only: the model layer refuses UPDATE and DELETE everywhere,
and a database trigger refuses them on PostgreSQL (migration 0002). A wallet's cached
`balance` is updated in the same database transaction as its entries, under a row lock, and can be
re-derived (`submeter audit` does).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from submeter.ledger.choices import AccountKind, AccountState, Channel, TransactionKind, Utility
from submeter.ledger.fields import MoneyField
from submeter.tenancy.models import AppendOnlyQuerySet, OrganisationOwned


class Account(OrganisationOwned):
    kind = models.CharField(_("kind"), max_length=24, choices=AccountKind.choices)
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="accounts",
    )
    balance = MoneyField(
        _("balance"),
        default=Decimal("0.00"),
        help_text=_("Cached for wallets; derived from entries for the other accounts."),
    )
    overdraft_limit = MoneyField(
        _("overdraft limit"),
        default=Decimal("0.00"),
        help_text=_("How far below zero the wallet may go before supply is cut."),
    )
    state = models.CharField(
        _("state"), max_length=10, choices=AccountState.choices, default=AccountState.OPEN
    )
    opened_at = models.DateTimeField(_("opened at"), default=timezone.now)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "kind"],
                condition=models.Q(customer__isnull=True),
                name="account_unique_system_kind",
            ),
            models.UniqueConstraint(
                fields=["customer"],
                condition=models.Q(kind=AccountKind.WALLET),
                name="account_unique_wallet",
            ),
            models.CheckConstraint(
                condition=models.Q(kind=AccountKind.WALLET, customer__isnull=False)
                | (~models.Q(kind=AccountKind.WALLET) & models.Q(customer__isnull=True)),
                name="account_wallet_has_customer",
            ),
            models.CheckConstraint(
                condition=models.Q(overdraft_limit__gte=0), name="account_overdraft_not_negative"
            ),
        ]

    def __str__(self) -> str:
        if self.customer_id:
            return f"{self.get_kind_display()} · {self.customer}"
        return str(self.get_kind_display())

    @property
    def floor(self) -> Decimal:
        """The lowest balance that top-ups, refunds and adjustments may leave."""
        return -self.overdraft_limit


class Transaction(OrganisationOwned):
    kind = models.CharField(_("kind"), max_length=12, choices=TransactionKind.choices)
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="transactions",
    )
    amount = MoneyField(
        _("amount"), help_text=_("What the tenant paid or received, or the charge.")
    )
    channel = models.CharField(
        _("channel"), max_length=10, choices=Channel.choices, blank=True, default=""
    )
    utility = models.CharField(
        _("utility"), max_length=12, choices=Utility.choices, blank=True, default=""
    )
    idempotency_key = models.CharField(_("idempotency key"), max_length=100, null=True, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True, default="")
    reverses = models.OneToOneField(
        "self",
        verbose_name=_("reverses"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversed_by",
    )
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("operator"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reason = models.CharField(_("reason"), max_length=200, blank=True, default="")
    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("transaction")
        verbose_name_plural = _("transactions")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "idempotency_key"], name="transaction_unique_key"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()} ¥{self.amount}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise TypeError("Ledger transactions are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Ledger transactions are append-only")


class Entry(models.Model):
    transaction = models.ForeignKey(
        Transaction, verbose_name=_("transaction"), on_delete=models.PROTECT, related_name="entries"
    )
    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.PROTECT, related_name="entries"
    )
    amount = MoneyField(_("amount"))
    balance_after = MoneyField(
        _("balance after"), null=True, blank=True, help_text=_("Wallet entries only.")
    )
    floor_at_posting = MoneyField(
        _("floor at posting"),
        null=True,
        blank=True,
        help_text=_("Wallet entries only: minus the overdraft limit in force when posted."),
    )

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("entry")
        verbose_name_plural = _("entries")
        ordering = ["id"]
        indexes = [models.Index(fields=["account", "id"], name="entry_account_id")]

    def __str__(self) -> str:
        return f"{self.account}: {self.amount}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise TypeError("Ledger entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Ledger entries are append-only")
