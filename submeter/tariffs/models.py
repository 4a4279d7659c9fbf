from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from submeter.engine import EngineError, parse_tariff
from submeter.ledger.choices import Utility
from submeter.tenancy.models import OrganisationOwned


class Tariff(OrganisationOwned):
    """A price scheme (电价方案): a JSON document of dated versions, rated by the engine.

    The document's schema is docs/tariffs.md; a price change is a new version in it.
    """

    name = models.CharField(_("name"), max_length=200)
    utility = models.CharField(
        _("utility"), max_length=12, choices=Utility.choices, default=Utility.ELECTRICITY
    )
    document = models.JSONField(_("tariff document"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("tariff")
        verbose_name_plural = _("tariffs")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="tariff_unique_name")
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        try:
            tariff = parse_tariff(self.document)
        except EngineError as exc:
            raise ValidationError(
                {"document": f"{exc.field}: {exc.message}" if exc.field else exc.message}
            ) from exc
        if tariff.utility != self.utility:
            raise ValidationError(
                {
                    "utility": _("The document is a tariff for %(utility)s.")
                    % {"utility": tariff.utility}
                }
            )

    @property
    def versions(self) -> list[str]:
        return [str(v.get("valid_from")) for v in (self.document or {}).get("versions", [])]
