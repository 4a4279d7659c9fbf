from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

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
    state = models.CharField(
        _("state"), max_length=10, choices=MeterState.choices, default=MeterState.ACTIVE
    )
    online_state = models.CharField(
        _("online state"), max_length=10, choices=OnlineState.choices, default=OnlineState.UNKNOWN
    )
    last_reading_at = models.DateTimeField(_("last reading"), null=True, blank=True)

    class Meta:
        verbose_name = _("meter")
        verbose_name_plural = _("meters")
        ordering = ["address"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "address"], name="meter_unique_address")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.address}"

    def clean(self) -> None:
        super().clean()
        duplicate = Meter.objects.filter(organisation_id=self.organisation_id, address=self.address)
        if self.organisation_id and duplicate.exclude(pk=self.pk).exists():
            raise ValidationError({"address": _("A meter with this address already exists.")})
