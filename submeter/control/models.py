"""Control: commands to meters, and the prepaid supply policy that decides them.

Supply is a desired state per meter (`SupplyState`), re-evaluated by the policy from the ledger;
a command (`Command`) is one attempt to bring a meter to a state, recorded with who, why and
what the meter answered. See RELIABILITY.md § Relay-control safety rules.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from submeter.ledger.fields import MoneyField
from submeter.tenancy.models import OrganisationOwned


def default_alarm_levels() -> list[str]:
    return ["50.00", "20.00", "5.00"]


class CommandAction(models.TextChoices):
    TRIP = "trip", _("Cut off (trip)")
    CLOSE = "close", _("Restore (close)")
    PROTECT = "protect", _("Protect (保电)")
    UNPROTECT = "unprotect", _("End protection")
    VALVE_CLOSE = "valve_close", _("Close valve")
    VALVE_OPEN = "valve_open", _("Open valve")
    SET_PRICE = "set_price", _("Set price")
    SET_POWER_LIMIT = "set_power_limit", _("Set power limit")
    READ = "read", _("Read")


RELAY_ACTIONS = frozenset(
    {
        CommandAction.TRIP,
        CommandAction.CLOSE,
        CommandAction.VALVE_CLOSE,
        CommandAction.VALVE_OPEN,
    }
)


class CommandState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENT = "sent", _("Sent")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    FAILED = "failed", _("Failed")
    EXPIRED = "expired", _("Expired")
    UNKNOWN = "unknown", _("Unknown (no answer)")
    CANCELLED = "cancelled", _("Cancelled")


OPEN_COMMAND_STATES = (CommandState.QUEUED, CommandState.SENT, CommandState.UNKNOWN)


def new_command_id() -> str:
    """The id a command carries on the wire (MQTT `command_id`): the same on every retry."""
    return f"c-{uuid.uuid4().hex[:24]}"


class ControlSettings(models.Model):
    """An organisation's control rules: quiet hours, notice before a cut-off, hysteresis, limits."""

    organisation = models.OneToOneField(
        "tenancy.Organisation",
        verbose_name=_("organisation"),
        on_delete=models.CASCADE,
        related_name="control_settings",
    )
    quiet_start = models.TimeField(
        _("quiet hours start"),
        null=True,
        blank=True,
        help_text=_("No automatic cut-off is sent from this time… (local time; empty = none)"),
    )
    quiet_end = models.TimeField(
        _("quiet hours end"), null=True, blank=True, help_text=_("…until this time.")
    )
    quiet_weekends = models.BooleanField(_("no cut-off at weekends"), default=False)
    extreme_weather = models.BooleanField(
        _("extreme weather"),
        default=False,
        help_text=_("While set, no automatic cut-off is sent at all."),
    )
    cutoff_notice_minutes = models.PositiveIntegerField(
        _("notice before cut-off (minutes)"),
        default=30,
        help_text=_("The tenant is warned this long before an automatic cut-off is sent."),
    )
    reconnect_margin = MoneyField(
        _("reconnect margin"),
        default=Decimal("1.00"),
        help_text=_("Supply comes back once the balance is this much above the cut-off floor."),
    )
    default_alarm_levels = models.JSONField(
        _("default balance alarm levels"), default=default_alarm_levels
    )
    close_mode = models.CharField(
        _("restore mode"),
        max_length=10,
        choices=[
            ("direct", _("Close the relay at once")),
            ("allowed", _("Allow the tenant to close it (button)")),
        ],
        default="direct",
    )
    relay_actions_per_meter_per_hour = models.PositiveIntegerField(
        _("relay actions per meter per hour"), default=6
    )
    relay_actions_per_org_per_minute = models.PositiveIntegerField(
        _("relay actions per organisation per minute"), default=2000
    )
    command_timeout_seconds = models.PositiveIntegerField(
        _("acknowledgement timeout (s)"), default=20
    )
    command_max_attempts = models.PositiveSmallIntegerField(
        _("attempts"), default=3, validators=[MinValueValidator(1), MaxValueValidator(20)]
    )
    command_expiry_minutes = models.PositiveIntegerField(
        _("expire unsent commands after (minutes)"), default=60
    )

    @classmethod
    def for_organisation(cls, organisation_id: int) -> ControlSettings:
        """The organisation's settings, created with the defaults on first use."""
        found = cls.objects.filter(organisation_id=organisation_id).first()
        if found is None:
            found, _created = cls.objects.get_or_create(organisation_id=organisation_id)
        return found

    class Meta:
        verbose_name = _("control settings")
        verbose_name_plural = _("control settings")

    def __str__(self) -> str:
        return str(self.organisation)


class QuietDay(OrganisationOwned):
    """A holiday (or any day) on which no automatic cut-off is sent."""

    date = models.DateField(_("date"))
    name = models.CharField(_("name"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("holiday")
        verbose_name_plural = _("holidays")
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "date"], name="quietday_unique_date")
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.name}".strip()


class PrepaidPolicy(OrganisationOwned):
    """A customer's prepaid settings and where the policy stands for them."""

    customer = models.OneToOneField(
        "customers.Customer",
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="prepaid_policy",
    )
    alarm_levels = models.JSONField(
        _("balance alarm levels"),
        default=default_alarm_levels,
        help_text=_(
            "Amounts in yuan, highest first; a reminder is sent when the balance falls to each."
        ),
    )
    protected = models.BooleanField(
        _("protected (保电)"), default=False, help_text=_("Never cut off automatically.")
    )
    protected_reason = models.CharField(_("why protected"), max_length=200, blank=True)
    alarm_level = models.PositiveSmallIntegerField(
        _("alarm level reached"), default=0, help_text=_("0 = none; 1… as the balance falls.")
    )
    in_arrears = models.BooleanField(_("in arrears"), default=False)
    forecast_zero_at = models.DateTimeField(_("balance reaches zero at"), null=True, blank=True)
    evaluated_at = models.DateTimeField(_("evaluated at"), null=True, blank=True)

    class Meta:
        verbose_name = _("prepaid policy")
        verbose_name_plural = _("prepaid policies")

    def __str__(self) -> str:
        return str(self.customer)


class SupplyPhase(models.TextChoices):
    """R1: where a meter's supply stands. Only the policy moves it."""

    ON = "on", _("On")
    PENDING_DISCONNECT = "pending_disconnect", _("Cut-off pending")
    DISCONNECT_SENT = "disconnect_sent", _("Cut-off sent")
    DISCONNECTED = "disconnected", _("Cut off")
    RECONNECT_SENT = "reconnect_sent", _("Restore sent")
    UNKNOWN = "unknown", _("Unknown")


class SupplyState(OrganisationOwned):
    """The desired and last known supply of one meter (relay or valve)."""

    meter = models.OneToOneField(
        "metering.Meter",
        verbose_name=_("meter"),
        on_delete=models.CASCADE,
        related_name="supply",
    )
    desired_on = models.BooleanField(_("supply wanted"), default=True)
    phase = models.CharField(
        _("supply"), max_length=20, choices=SupplyPhase.choices, default=SupplyPhase.ON
    )
    relay_closed = models.BooleanField(
        _("relay closed"), null=True, blank=True, help_text=_("As last reported by the meter.")
    )
    cut_due_at = models.DateTimeField(_("cut-off due at"), null=True, blank=True)
    decisions = models.PositiveIntegerField(
        _("decisions"),
        default=0,
        help_text=_(
            "Cut-offs and restores the policy has decided for this meter; each "
            "command's decision key carries the number, so one decision sends one command."
        ),
    )
    manual_hold = models.BooleanField(
        _("cut off by an operator"),
        default=False,
        help_text=_("Set by a confirmed manual cut-off; only a manual restore lifts it."),
    )
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now)
    power_limit_kw = models.DecimalField(
        _("power limit (kW)"),
        max_digits=10,
        decimal_places=3,
        null=True,
        blank=True,
        help_text=_("As last set on the meter and acknowledged; 0 = no limit."),
    )

    class Meta:
        verbose_name = _("supply state")
        verbose_name_plural = _("supply states")

    def __str__(self) -> str:
        return f"{self.meter}: {self.get_phase_display()}"


class CommandBatch(OrganisationOwned):
    """One action over a filtered set of meters, now or at a set time."""

    action = models.CharField(_("action"), max_length=20, choices=CommandAction.choices)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    meter_filter = models.JSONField(_("meters"), default=dict, blank=True)
    run_at = models.DateTimeField(_("run at"), default=timezone.now)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    meter_count = models.PositiveIntegerField(_("meters"), default=0)
    skipped_count = models.PositiveIntegerField(
        _("meters skipped"),
        default=0,
        help_text=_("Protected meters (no cut-off) and meters the policy keeps cut off."),
    )
    confirmed = models.BooleanField(
        _("cut-off confirmed"),
        default=False,
        help_text=_("A batch cut-off runs only when its creator confirmed it."),
    )
    schedule = models.ForeignKey(
        "ControlSchedule",
        verbose_name=_("timed control"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="batches",
    )
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("batch task")
        verbose_name_plural = _("batch tasks")
        ordering = ["-run_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} × {self.meter_count}"


class ControlSchedule(OrganisationOwned):
    """A timed control (e.g. dormitory lights-out): an action at a time on chosen weekdays."""

    name = models.CharField(_("name"), max_length=100)
    action = models.CharField(_("action"), max_length=20, choices=CommandAction.choices)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    meter_filter = models.JSONField(_("meters"), default=dict, blank=True)
    time_of_day = models.TimeField(_("time"))
    weekdays = models.JSONField(
        _("weekdays"), default=list, help_text=_("ISO weekdays 1 (Monday) … 7; empty = every day.")
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    last_run_on = models.DateField(_("last run on"), null=True, blank=True)

    class Meta:
        verbose_name = _("timed control")
        verbose_name_plural = _("timed controls")
        ordering = ["time_of_day", "name"]

    def __str__(self) -> str:
        return self.name


class Command(OrganisationOwned):
    """One command to one meter, from request to the meter's answer."""

    meter = models.ForeignKey(
        "metering.Meter",
        verbose_name=_("meter"),
        on_delete=models.PROTECT,
        related_name="commands",
    )
    command_id = models.CharField(
        _("command id"),
        max_length=40,
        unique=True,
        default=new_command_id,
        editable=False,
        help_text=_("Sent to the meter; every retry carries the same id."),
    )
    action = models.CharField(_("action"), max_length=20, choices=CommandAction.choices)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    state = models.CharField(
        _("state"),
        max_length=12,
        choices=CommandState.choices,
        default=CommandState.QUEUED,
        db_index=True,
    )
    decision_key = models.CharField(
        _("decision"),
        max_length=120,
        null=True,
        blank=True,
        help_text=_("One command per policy decision: a retried decision finds this one."),
    )
    cause = models.JSONField(
        _("cause"), default=dict, blank=True, help_text=_("Balance, rule, window check, actor.")
    )
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    batch = models.ForeignKey(
        CommandBatch,
        verbose_name=_("batch task"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="commands",
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    answer = models.JSONField(_("answer"), null=True, blank=True)
    error_code = models.CharField(_("error code"), max_length=64, blank=True, db_index=True)
    error = models.CharField(_("error"), max_length=300, blank=True)
    resend_of = models.ForeignKey(
        "self",
        verbose_name=_("resend of"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="resends",
    )
    read_back_for = models.ForeignKey(
        "self",
        verbose_name=_("reads back"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="read_backs",
        help_text=_("A read of the relay state that settles a command left unknown."),
    )
    mismatch = models.BooleanField(
        _("state mismatch"),
        default=False,
        help_text=_("The meter acknowledged a different state than asked."),
    )

    class Meta:
        verbose_name = _("command")
        verbose_name_plural = _("commands")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "decision_key"], name="command_unique_decision"
            )
        ]
        indexes = [
            models.Index(fields=["meter", "-created_at"], name="command_meter_recent"),
            models.Index(fields=["organisation", "-created_at"], name="command_org_recent"),
            models.Index(fields=["state", "next_attempt_at"], name="command_due"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} → {self.meter} ({self.get_state_display()})"
