"""Every state change of organisations, memberships, grants and invites, and the generic
audited save/delete used by the other apps for plain records."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models.deletion import ProtectedError, RestrictedError
from django.utils import timezone
from django.utils.translation import gettext as _

from submeter.errors import Conflict, ServiceError
from submeter.tenancy.audit import fresh_snapshot, record, snapshot
from submeter.tenancy.models import AccessGrant, Invite, Membership, Organisation
from submeter.tenancy.roles import Role


def validation_error(exc: ValidationError) -> ServiceError:
    if hasattr(exc, "error_dict"):
        fields = {
            name: [str(m) for m in ValidationError(errs).messages]
            for name, errs in exc.error_dict.items()
        }
    else:
        fields = {"__all__": [str(m) for m in exc.messages]}
    first = next(iter(fields.values()))[0] if fields else _("Invalid input.")
    return ServiceError("invalid", first, fields)


@transaction.atomic
def save_record(actor, instance: models.Model, *, exclude: list[str] | None = None) -> models.Model:
    """Validate (fields, links within one organisation, unique constraints), save and audit."""
    before = fresh_snapshot(instance)
    try:
        instance.full_clean(exclude=exclude)
    except ValidationError as exc:
        raise validation_error(exc) from exc
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError as exc:
        raise Conflict("conflict", _("This record conflicts with an existing one.")) from exc
    record(
        actor, "update" if before else "create", instance, before=before, after=snapshot(instance)
    )
    return instance


@transaction.atomic
def delete_record(actor, instance: models.Model) -> None:
    before = snapshot(instance)
    pk, label, text = instance.pk, instance._meta.label_lower, str(instance)[:200]
    organisation_id = getattr(instance, "organisation_id", None)
    try:
        with transaction.atomic():
            instance.delete()
    except (ProtectedError, RestrictedError) as exc:
        raise Conflict(
            "in_use", _("%(object)s is still in use and cannot be deleted.") % {"object": text}
        ) from exc
    record(
        actor,
        "delete",
        None,
        organisation_id=organisation_id,
        before=before,
        object_type=label,
        object_id=str(pk),
        object_repr=text,
    )


@transaction.atomic
def create_organisation(
    actor, *, name: str, code: str, parent: Organisation | None = None
) -> Organisation:
    organisation = Organisation(name=name, code=code, parent=parent)
    save_record(actor, organisation)
    return organisation


@transaction.atomic
def create_administrator(
    *, organisation_name: str, username: str, password: str, code: str = ""
) -> Membership:
    """`submeter createadmin`: the organisation (created if missing) and an administrator of it."""
    organisation = Organisation.objects.filter(name=organisation_name).first()
    if organisation is None:
        organisation = create_organisation(
            None, name=organisation_name, code=code or _unique_code(organisation_name)
        )
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User(username=username)
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise ServiceError(
                "weak_password", " ".join(exc.messages), {"password": exc.messages}
            ) from exc
        user.set_password(password)
        user.save()
        record(None, "create", user, organisation_id=organisation.pk, after={"username": username})
    membership, created = Membership.objects.get_or_create(
        user=user, organisation=organisation, defaults={"role": Role.ADMINISTRATOR}
    )
    if not created and (membership.role != Role.ADMINISTRATOR or not membership.is_active):
        before = snapshot(membership)
        membership.role, membership.is_active = Role.ADMINISTRATOR, True
        membership.save()
        record(None, "update", membership, before=before, after=snapshot(membership))
    elif created:
        record(None, "create", membership, after=snapshot(membership))
    return membership


def _unique_code(name: str) -> str:
    import re
    import secrets

    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:30] or "org"
    code = base
    while Organisation.objects.filter(code=code).exists():
        code = f"{base}-{secrets.token_hex(2)}"
    return code


@transaction.atomic
def create_invite(actor, organisation: Organisation, role: str) -> Invite:
    if role not in Role.values:
        raise ServiceError("invalid", _("Unknown role."), {"role": [_("Unknown role.")]})
    now = timezone.now()
    invite = Invite(
        organisation=organisation,
        role=role,
        created_by=actor,
        created_at=now,
        expires_at=now + datetime.timedelta(hours=settings.INVITE_VALID_HOURS),
    )
    invite.save()
    record(actor, "invite.create", invite, organisation_id=organisation.pk, after={"role": role})
    return invite


def check_invite(token: str, now: datetime.datetime | None = None) -> Invite:
    invite = Invite.objects.select_related("organisation").filter(token=token).first()
    if invite is None:
        raise ServiceError("invite_unknown", _("This invite link is not valid."), status=404)
    if invite.accepted_at is not None:
        raise ServiceError("invite_used", _("This invite link has already been used."), status=410)
    if invite.is_expired(now):
        raise ServiceError(
            "invite_expired",
            _("This invite link has expired. Ask for a new one."),
            status=410,
        )
    return invite


@transaction.atomic
def accept_invite(token: str, *, user=None, username: str = "", password: str = "") -> Membership:
    """Join the invite's organisation, as the logged-in `user` or as a new user."""
    invite = check_invite(token)
    invite = Invite.objects.select_for_update().get(pk=invite.pk)
    if invite.accepted_at is not None:
        raise ServiceError("invite_used", _("This invite link has already been used."), status=410)
    User = get_user_model()
    if user is None or not user.is_authenticated:
        if not username:
            raise ServiceError(
                "invalid", _("Choose a user name."), {"username": [_("This field is required.")]}
            )
        if User.objects.filter(username=username).exists():
            raise ServiceError(
                "username_taken",
                _("This user name is taken."),
                {"username": [_("This user name is taken.")]},
            )
        user = User(username=username)
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise ServiceError(
                "weak_password", " ".join(exc.messages), {"password": exc.messages}
            ) from exc
        user.set_password(password)
        user.save()
    membership = Membership.objects.filter(user=user, organisation=invite.organisation).first()
    before = snapshot(membership)
    if membership is None:
        membership = Membership(user=user, organisation=invite.organisation)
    membership.role, membership.is_active = invite.role, True
    membership.save()
    invite.accepted_at, invite.accepted_by = timezone.now(), user
    invite.save(update_fields=["accepted_at", "accepted_by"])
    record(user, "invite.accept", membership, before=before, after=snapshot(membership))
    return membership


@transaction.atomic
def grant_access(actor, organisation: Organisation, grantee_code: str, role: str) -> AccessGrant:
    grantee = Organisation.objects.filter(code=grantee_code.strip()).first()
    if grantee is None or grantee.pk == organisation.pk:
        raise ServiceError(
            "invalid",
            _("No other organisation has this code."),
            {"grantee": [_("No other organisation has this code.")]},
        )
    if AccessGrant.objects.filter(
        organisation=organisation, grantee=grantee, revoked_at__isnull=True
    ).exists():
        raise Conflict(
            "grant_exists",
            _("This organisation already has access."),
            {"grantee": [_("This organisation already has access.")]},
        )
    grant = AccessGrant(organisation=organisation, grantee=grantee, role=role, granted_by=actor)
    save_record(actor, grant)
    return grant


@transaction.atomic
def revoke_access(actor, grant: AccessGrant) -> AccessGrant:
    grant = AccessGrant.objects.select_for_update().get(pk=grant.pk)
    if grant.revoked_at is None:
        before = snapshot(grant)
        grant.revoked_at, grant.revoked_by = timezone.now(), actor
        grant.save(update_fields=["revoked_at", "revoked_by"])
        record(actor, "grant.revoke", grant, before=before, after=snapshot(grant))
    return grant
