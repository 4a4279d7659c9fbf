from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from submeter.ledger.fields import ScaledDecimalField
from submeter.metering.registers import (  # noqa: F401  (the reading's fields, re-exported)
    CUMULATIVE_FIELDS,
    FIELD_PLACES,
    INSTANTANEOUS_FIELDS,
)
from submeter.tenancy.models import OrganisationOwned


class GatewayProtocol(models.TextChoices):
    MQTT = "mqtt", _("MQTT")
    MODBUS_TCP = "modbus_tcp", _("Modbus TCP")
    DLT645_TCP = "dlt645_tcp", _("DL/T 645 over TCP")


class OnlineState(models.TextChoices):
    UNKNOWN = "unknown", _("Never seen")
    ONLINE = "online", _("Online")
    OFFLINE = "offline", _("Offline")


class Gateway(OrganisationOwned):
    """A concentrator (通讯管理机) or 4G/NB module through which meters are reached."""

    name = models.CharField(_("name"), max_length=100)
    serial = models.CharField(
        _("gateway id"), max_length=64, help_text=_("Its identity, used in MQTT topics.")
    )
    protocol = models.CharField(
        _("protocol"), max_length=20, choices=GatewayProtocol.choices, default=GatewayProtocol.MQTT
    )
    address = models.CharField(
        _("network address"),
        max_length=200,
        blank=True,
        help_text=_("host:port for Modbus TCP and DL/T 645 TCP gateways that are polled."),
    )
    online_state = models.CharField(
        _("online state"), max_length=10, choices=OnlineState.choices, default=OnlineState.UNKNOWN
    )
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)

    class Meta:
        verbose_name = _("gateway")
        verbose_name_plural = _("gateways")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "serial"], name="gateway_unique_serial")
        ]

    def __str__(self) -> str:
        return self.name


class MeterKind(models.TextChoices):
    ELECTRICITY = "electricity", _("Electricity")
    WATER = "water", _("Water")
    GAS = "gas", _("Gas")


class MeterState(models.TextChoices):
    ACTIVE = "active", _("In service")
    INACTIVE = "inactive", _("Out of service")
    REPLACED = "replaced", _("Replaced")


class Meter(OrganisationOwned):
    kind = models.CharField(
        _("kind"), max_length=12, choices=MeterKind.choices, default=MeterKind.ELECTRICITY
    )
    phases = models.PositiveSmallIntegerField(
        _("phases"), choices=[(1, _("Single-phase")), (3, _("Three-phase"))], default=1
    )
    address = models.CharField(
        _("communication address"),
        max_length=32,
        help_text=_("DL/T 645 / CJ/T 188 address, Modbus unit id, or device id."),
    )
    serial = models.CharField(_("serial number"), max_length=64, blank=True)
    model = models.CharField(_("model"), max_length=64, blank=True)
    ct_ratio = models.DecimalField(
        _("CT ratio"),
        max_digits=10,
        decimal_places=2,
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0.01"))],
    )
    rated_power_kw = models.DecimalField(
        _("rated power (kW)"),
        max_digits=10,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )
    gateway = models.ForeignKey(
        Gateway,
        verbose_name=_("gateway"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="meters",
    )
    room = models.ForeignKey(
        "sites.Room",
        verbose_name=_("room"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="meters",
    )
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="meters",
    )
    tariff = models.ForeignKey(
        "tariffs.Tariff",
        verbose_name=_("tariff"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="meters",
        help_text=_("How its consumption is charged; without one it is not billed."),
    )
    state = models.CharField(
        _("state"), max_length=10, choices=MeterState.choices, default=MeterState.ACTIVE
    )
    online_state = models.CharField(
        _("online state"), max_length=10, choices=OnlineState.choices, default=OnlineState.UNKNOWN
    )
    last_reading_at = models.DateTimeField(_("last reading"), null=True, blank=True)
    reading_interval_minutes = models.PositiveSmallIntegerField(
        _("reading interval (minutes)"),
        default=15,
        help_text=_("How often readings are expected; three missed intervals mark it offline."),
    )

    class Meta:
        verbose_name = _("meter")
        verbose_name_plural = _("meters")
        ordering = ["address"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "address"], name="meter_unique_address")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.address}"

    def latest_values(self) -> dict[str, Decimal]:
        """The registers of the latest stored reading (empty before the first)."""
        if self.last_reading_at is None:
            return {}
        row = (
            Reading.objects.filter(meter=self, timestamp=self.last_reading_at)
            .values(*CUMULATIVE_FIELDS, *INSTANTANEOUS_FIELDS)
            .first()
        )
        return {name: value for name, value in (row or {}).items() if value is not None}

    def clean(self) -> None:
        super().clean()
        duplicate = Meter.objects.filter(organisation_id=self.organisation_id, address=self.address)
        if self.organisation_id and duplicate.exclude(pk=self.pk).exists():
            raise ValidationError({"address": _("A meter with this address already exists.")})
        if self.tariff_id is not None and self.tariff.utility != self.kind:
            raise ValidationError({"tariff": _("The tariff is for another utility.")})


class ReadingSource(models.TextChoices):
    MQTT = "mqtt", _("MQTT gateway")
    MODBUS = "modbus", _("Modbus poll")
    DLT645 = "dlt645", _("DL/T 645 poll")
    HTTP = "http", _("HTTP push")
    MANUAL = "manual", _("Manual entry")


class Reading(models.Model):
    """One reading of a meter at one instant: cumulative registers and instantaneous values.

    Raw readings are never edited; (meter, timestamp) is unique, so a reading delivered twice is
    stored once. Values are exact decimals stored as scaled integers.
    """

    meter = models.ForeignKey(
        Meter, verbose_name=_("meter"), on_delete=models.PROTECT, related_name="+"
    )
    organisation = models.ForeignKey(
        "tenancy.Organisation",
        verbose_name=_("organisation"),
        on_delete=models.PROTECT,
        db_index=False,
        related_name="+",
    )
    timestamp = models.DateTimeField(_("time"))
    source = models.CharField(_("source"), max_length=8, choices=ReadingSource.choices)
    energy_kwh = ScaledDecimalField(_("energy (kWh)"), places=3, null=True, blank=True)
    energy_rate1_kwh = ScaledDecimalField(_("rate 1 (sharp) kWh"), places=3, null=True, blank=True)
    energy_rate2_kwh = ScaledDecimalField(_("rate 2 (peak) kWh"), places=3, null=True, blank=True)
    energy_rate3_kwh = ScaledDecimalField(_("rate 3 (flat) kWh"), places=3, null=True, blank=True)
    energy_rate4_kwh = ScaledDecimalField(_("rate 4 (valley) kWh"), places=3, null=True, blank=True)
    reverse_energy_kwh = ScaledDecimalField(
        _("reverse energy (kWh)"), places=3, null=True, blank=True
    )
    water_m3 = ScaledDecimalField(_("water (m³)"), places=3, null=True, blank=True)
    voltage_a_v = ScaledDecimalField(_("voltage A (V)"), places=2, null=True, blank=True)
    voltage_b_v = ScaledDecimalField(_("voltage B (V)"), places=2, null=True, blank=True)
    voltage_c_v = ScaledDecimalField(_("voltage C (V)"), places=2, null=True, blank=True)
    current_a_a = ScaledDecimalField(_("current A (A)"), places=3, null=True, blank=True)
    current_b_a = ScaledDecimalField(_("current B (A)"), places=3, null=True, blank=True)
    current_c_a = ScaledDecimalField(_("current C (A)"), places=3, null=True, blank=True)
    power_kw = ScaledDecimalField(_("power (kW)"), places=4, null=True, blank=True)
    power_factor = ScaledDecimalField(_("power factor"), places=3, null=True, blank=True)
    received_at = models.DateTimeField(_("received at"), default=timezone.now)

    class Meta:
        verbose_name = _("reading")
        verbose_name_plural = _("readings")
        constraints = [
            models.UniqueConstraint(fields=["meter", "timestamp"], name="reading_unique_meter_time")
        ]

    def __str__(self) -> str:
        return f"{self.meter_id} @ {self.timestamp:%Y-%m-%d %H:%M}"


class QuarantineState(models.TextChoices):
    PENDING = "pending", _("To review")
    RELEASED = "released", _("Released")
    DISCARDED = "discarded", _("Discarded")


class QuarantinedReading(models.Model):
    """A reading or message that failed validation, kept with its reason for an operator."""

    organisation = models.ForeignKey(
        "tenancy.Organisation",
        verbose_name=_("organisation"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    meter = models.ForeignKey(
        Meter,
        verbose_name=_("meter"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    gateway_serial = models.CharField(_("gateway id"), max_length=64, blank=True)
    meter_address = models.CharField(_("meter address"), max_length=64, blank=True)
    timestamp = models.DateTimeField(_("reading time"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=8, choices=ReadingSource.choices)
    reason = models.CharField(_("reason"), max_length=40, db_index=True)
    detail = models.CharField(_("detail"), max_length=300, blank=True)
    payload = models.JSONField(_("payload"), null=True, blank=True)
    raw = models.TextField(_("raw message"), blank=True)
    received_at = models.DateTimeField(_("received at"), default=timezone.now, db_index=True)
    state = models.CharField(
        _("state"), max_length=10, choices=QuarantineState.choices, default=QuarantineState.PENDING
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewed by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("quarantined reading")
        verbose_name_plural = _("quarantine")
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.meter_address or '?'} {self.reason}"


class MeterIdentityVersion(models.Model):
    """One counter that database triggers (migration 0006) increase whenever a meter's identity
    or limits change (organisation, address, CT ratio, rated power) or a meter is deleted,
    whoever changes it. Ingest workers keep meters in memory and read this one row per batch to
    know when to read them again."""

    version = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("meter identity version")
