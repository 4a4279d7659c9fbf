from __future__ import annotations

import secrets
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from submeter.tenancy.roles import Role


class User(AbstractUser):
    """A person who logs into the console or the API. What they may see comes from memberships."""

    phone = models.CharField(_("phone"), max_length=32, blank=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")


class Organisation(models.Model):
    """A property, a group of properties, or a maintenance company. Organisations form a tree."""

    name = models.CharField(_("name"), max_length=200)
    code = models.CharField(
        _("code"),
        max_length=40,
        unique=True,
        validators=[RegexValidator(r"^[a-z0-9][a-z0-9-]*$", _("Lower-case letters, digits, -."))],
        help_text=_("Short unique identifier, used in MQTT topics and to grant access."),
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent organisation"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    time_zone = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai")
    topup_fee_percent = models.DecimalField(
        _("top-up service fee (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text=_("Taken from every top-up as service-fee revenue (F D6)."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """The tree has no cycle: an organisation is never placed under itself or one of its
        sub-organisations (which would cut it and its subtree off from the group above)."""
        from django.core.exceptions import ValidationError

        super().clean()
        if self.pk is None or self.parent_id is None:
            return
        parents = dict(Organisation.objects.values_list("id", "parent_id"))
        ancestor: int | None = self.parent_id
        while ancestor is not None:
            if ancestor == self.pk:
                raise ValidationError(
                    {
                        "parent": _(
                            "An organisation cannot be placed under itself or one of its "
                            "sub-organisations."
                        )
                    }
                )
            ancestor = parents.get(ancestor)


class Membership(models.Model):
    """A user's role in an organisation; it also covers the organisation's sub-organisations."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="memberships",
    )
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisation"),
        on_delete=models.CASCADE,
        related_name="memberships",
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organisation"], name="membership_unique_user_organisation"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organisation} ({self.get_role_display()})"


class AccessGrant(models.Model):
    """Lets the members of `grantee` (e.g. a maintenance company) see `organisation`.

    The grantee's members act with `role` on the granting organisation and its sub-organisations.
    Revoking sets `revoked_at`; the row stays as a record.
    """

    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("granting organisation"),
        on_delete=models.CASCADE,
        related_name="grants_given",
    )
    grantee = models.ForeignKey(
        Organisation,
        verbose_name=_("grantee organisation"),
        on_delete=models.CASCADE,
        related_name="grants_received",
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.OPERATOR)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("granted by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("granted at"), default=timezone.now, editable=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("revoked by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("access grant")
        verbose_name_plural = _("access grants")
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "grantee"],
                condition=models.Q(revoked_at__isnull=True),
                name="grant_unique_active",
            )
        ]

    def __str__(self) -> str:
        return f"{self.grantee} → {self.organisation}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


def new_invite_token() -> str:
    return secrets.token_urlsafe(32)


class Invite(models.Model):
    """A link that lets a new person join an organisation with a role, valid for 24 hours, once."""

    organisation = models.ForeignKey(
        Organisation, verbose_name=_("organisation"), on_delete=models.CASCADE
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.VIEWER)
    token = models.CharField(max_length=64, unique=True, default=new_invite_token, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    expires_at = models.DateTimeField(_("expires at"))
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("accepted by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("invite")
        verbose_name_plural = _("invites")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.organisation} ({self.get_role_display()})"

    def is_expired(self, now=None) -> bool:
        return (now or timezone.now()) >= self.expires_at


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError(f"{self.model.__name__} rows are append-only")

    def delete(self):
        raise TypeError(f"{self.model.__name__} rows are append-only")


class AuditEntry(models.Model):
    """One state-changing operation: who, when, what, before → after. Append-only."""

    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisation"),
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("who"),
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    action = models.CharField(_("action"), max_length=40, db_index=True)
    object_type = models.CharField(_("object type"), max_length=80, db_index=True)
    object_id = models.CharField(_("object id"), max_length=40, blank=True)
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.object_repr}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("AuditEntry rows are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("AuditEntry rows are append-only")


class OrganisationOwned(models.Model):
    """Base of every table that belongs to an organisation.

    `clean()` refuses links to objects of another organisation, so a meter can never point at a
    room, gateway or customer that its organisation does not own.
    """

    organisation = models.ForeignKey(
        Organisation, verbose_name=_("organisation"), on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        abstract = True

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        super().clean()
        errors = {}
        for field in self._meta.concrete_fields:
            if not field.is_relation or field.name == "organisation":
                continue
            if not issubclass(field.related_model, OrganisationOwned):
                continue
            related_id = getattr(self, field.attname)
            if related_id is None or self.organisation_id is None:
                continue
            related_org = (
                field.related_model._default_manager.filter(pk=related_id)
                .values_list("organisation_id", flat=True)
                .first()
            )
            if related_org != self.organisation_id:
                errors[field.name] = _("Must belong to the same organisation.")
        if errors:
            raise ValidationError(errors)
