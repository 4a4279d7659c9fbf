"""Recording state changes in the audit log, with before → after snapshots."""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any

from django.db import models

from submeter.tenancy.models import AuditEntry


def _json_value(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def snapshot(instance: models.Model | None) -> dict[str, Any] | None:
    """The concrete field values of a saved object, JSON-safe (foreign keys as ids)."""
    if instance is None or instance.pk is None:
        return None
    data: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        data[field.attname] = _json_value(getattr(instance, field.attname))
    return data


def fresh_snapshot(instance: models.Model) -> dict[str, Any] | None:
    """The stored state of an object before it is changed (None when it is new)."""
    if instance.pk is None:
        return None
    stored = type(instance)._default_manager.filter(pk=instance.pk).first()
    return snapshot(stored)


def record(
    actor,
    action: str,
    instance: models.Model | None = None,
    *,
    organisation_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
) -> AuditEntry:
    if instance is not None:
        object_type = object_type or instance._meta.label_lower
        object_repr = object_repr or str(instance)[:200]
        if organisation_id is None:
            organisation_id = getattr(instance, "organisation_id", None)
    changed_before, changed_after = before, after
    if before is not None and after is not None:
        keys = [key for key in after if before.get(key) != after.get(key)]
        changed_before = {key: before.get(key) for key in keys}
        changed_after = {key: after.get(key) for key in keys}
    return AuditEntry.objects.create(
        organisation_id=organisation_id,
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        object_type=object_type,
        object_id=object_id or (str(instance.pk) if instance is not None and instance.pk else ""),
        object_repr=object_repr,
        before=changed_before,
        after=changed_after,
    )
