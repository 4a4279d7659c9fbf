"""Billing: real-time deduction from register differences, settlement, meter replacement.

A meter's `BillingCursor` says up to which reading it has been billed; each billed interval is one
`UsageCharge` that keeps the engine's lines, so every fen points to its readings, tariff version
and rule. A register found lower than the cursor becomes a `ReviewFlag`, never a negative charge.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from submeter.ledger.choices import Utility
from submeter.ledger.fields import MoneyField, ScaledDecimalField
from submeter.tenancy.models import OrganisationOwned

QUANTITY_PLACES = 6
EXACT_PLACES = 12


class BillingCursor(OrganisationOwned):
    """What of a meter's register series has been billed, and the sub-fen carry.

    `registers` are the cumulative registers (decimal strings) of the reading at `reading_at`;
    deduction rates the differences from them. `carry` holds one `FenRounder` state per month and
    bill line code (`{"2025-07": {"energy.peak": ["exact total", "posted total"]}}`), so the
    postings of a month add up to the month's bill rated in one go.
    """

    meter = models.OneToOneField(
        "metering.Meter",
        verbose_name=_("meter"),
        on_delete=models.PROTECT,
        related_name="billing_cursor",
    )
    reading_at = models.DateTimeField(_("billed up to"))
    registers = models.JSONField(_("registers billed up to"), default=dict)
    series_started_at = models.DateTimeField(_("register series started"))
    carry = models.JSONField(_("sub-fen carry"), default=dict, blank=True)
    closed_at = models.DateTimeField(
        _("series closed"),
        null=True,
        blank=True,
        help_text=_("The meter was replaced: readings after this are never billed."),
    )
    previous_meter = models.ForeignKey(
        "metering.Meter",
        verbose_name=_("replaces meter"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("billing cursor")
        verbose_name_plural = _("billing cursors")

    def __str__(self) -> str:
        return f"{self.meter_id} @ {self.reading_at:%Y-%m-%d %H:%M}"


class UsageCharge(OrganisationOwned):
    """One billed interval of one meter: the register difference, its rating and its posting."""

    meter = models.ForeignKey(
        "metering.Meter", verbose_name=_("meter"), on_delete=models.PROTECT, related_name="+"
    )
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="usage_charges",
    )
    utility = models.CharField(_("utility"), max_length=12, choices=Utility.choices)
    month = models.DateField(
        _("month"), help_text=_("First day of the local month of the interval's start.")
    )
    interval_start = models.DateTimeField(_("from"))
    interval_end = models.DateTimeField(_("to"))
    register_from = ScaledDecimalField(_("register from"), places=3)
    register_to = ScaledDecimalField(_("register to"), places=3)
    quantity = ScaledDecimalField(_("quantity"), places=QUANTITY_PLACES)
    quantity_by_rate = models.JSONField(_("quantity by rate"), null=True, blank=True)
    free_quantity = ScaledDecimalField(_("free quantity"), places=QUANTITY_PLACES, default=0)
    estimated = models.BooleanField(
        _("estimated"),
        default=False,
        help_text=_("A gap without interval data: the difference was spread evenly over it."),
    )
    tariff = models.ForeignKey(
        "tariffs.Tariff", verbose_name=_("tariff"), on_delete=models.PROTECT, related_name="+"
    )
    tariff_version = models.DateTimeField(_("tariff version"))
    lines = models.JSONField(_("bill lines"), default=list)
    amount_exact = ScaledDecimalField(_("exact amount"), places=EXACT_PLACES)
    posted_amount = MoneyField(
        _("posted amount"),
        help_text=_("This interval's whole-fen share, after the sub-fen carry."),
    )
    month_end = models.BooleanField(
        _("month-end settlement"), default=False, help_text=_("Posted by the month's settlement.")
    )
    transaction = models.ForeignKey(
        "ledger.Transaction",
        verbose_name=_("ledger transaction"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("usage charge")
        verbose_name_plural = _("usage charges")
        ordering = ["-interval_end", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["meter", "interval_end"], name="usage_charge_unique_meter_end"
            )
        ]
        indexes = [
            models.Index(fields=["customer", "month"], name="usage_charge_customer_month"),
            models.Index(fields=["meter", "month"], name="usage_charge_meter_month"),
        ]

    def __str__(self) -> str:
        return f"{self.meter_id} {self.interval_start:%Y-%m-%d %H:%M}–{self.interval_end:%H:%M}"


class ReviewState(models.TextChoices):
    OPEN = "open", _("To review")
    RESOLVED = "resolved", _("Resolved")


class ReviewFlag(OrganisationOwned):
    """A register lower than what was already billed (reset, rollover, swapped meter).

    Deduction stops before such a reading and never bills it negative; an operator resolves it
    (a meter replacement, or restarting the series at that reading).
    """

    meter = models.ForeignKey(
        "metering.Meter", verbose_name=_("meter"), on_delete=models.PROTECT, related_name="+"
    )
    reading_at = models.DateTimeField(_("reading time"))
    register = models.CharField(_("register"), max_length=24)
    billed_value = ScaledDecimalField(_("billed up to"), places=3)
    read_value = ScaledDecimalField(_("value read"), places=3)
    state = models.CharField(
        _("state"), max_length=10, choices=ReviewState.choices, default=ReviewState.OPEN
    )
    created_at = models.DateTimeField(_("flagged at"), default=timezone.now)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("resolved by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    class Meta:
        verbose_name = _("register review")
        verbose_name_plural = _("register reviews")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["meter", "reading_at"], name="review_flag_unique_meter_reading"
            )
        ]

    def __str__(self) -> str:
        return f"{self.meter_id} {self.register} {self.read_value} < {self.billed_value}"
