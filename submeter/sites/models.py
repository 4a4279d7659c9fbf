from __future__ import annotations

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from submeter.tenancy.models import OrganisationOwned


class Building(OrganisationOwned):
    name = models.CharField(_("name"), max_length=100)
    address = models.CharField(_("address"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("building")
        verbose_name_plural = _("buildings")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="building_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class Floor(OrganisationOwned):
    building = models.ForeignKey(
        Building, verbose_name=_("building"), on_delete=models.PROTECT, related_name="floors"
    )
    level = models.IntegerField(_("level"), help_text=_("1 is the ground floor; negative below."))
    name = models.CharField(_("name"), max_length=50, blank=True)

    class Meta:
        verbose_name = _("floor")
        verbose_name_plural = _("floors")
        ordering = ["building__name", "level"]
        constraints = [
            models.UniqueConstraint(fields=["building", "level"], name="floor_unique_level")
        ]

    def __str__(self) -> str:
        return f"{self.building.name} {self.name or self.level}"


class Room(OrganisationOwned):
    floor = models.ForeignKey(
        Floor, verbose_name=_("floor"), on_delete=models.PROTECT, related_name="rooms"
    )
    number = models.CharField(_("room number"), max_length=30)
    area_m2 = models.DecimalField(
        _("area (m²)"),
        max_digits=10,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("tenant"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="rooms",
    )

    class Meta:
        verbose_name = _("room")
        verbose_name_plural = _("rooms")
        ordering = ["floor__building__name", "floor__level", "number"]
        constraints = [
            models.UniqueConstraint(fields=["floor", "number"], name="room_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.floor.building.name}-{self.number}"
