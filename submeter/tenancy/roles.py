"""Roles and what each may do.

A permission is a string naming an area and an action. Every console view and API endpoint asks
`Scope.can(permission, organisation_id)`; nothing else decides who may do what.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMINISTRATOR = "administrator", _("Administrator")
    FINANCE = "finance", _("Finance")
    OPERATOR = "operator", _("Operator")
    ELECTRICIAN = "electrician", _("Electrician")
    VIEWER = "viewer", _("Viewer")


VIEW = "view"
SITES_CHANGE = "sites.change"
CUSTOMERS_CHANGE = "customers.change"
DEVICES_CHANGE = "devices.change"
MONEY_OPERATE = "money.operate"
TARIFFS_CHANGE = "tariffs.change"
CONTROL_OPERATE = "control.operate"
MEMBERS_MANAGE = "members.manage"
AUDIT_VIEW = "audit.view"

ALL_PERMISSIONS = frozenset(
    {
        VIEW,
        SITES_CHANGE,
        CUSTOMERS_CHANGE,
        DEVICES_CHANGE,
        MONEY_OPERATE,
        TARIFFS_CHANGE,
        CONTROL_OPERATE,
        MEMBERS_MANAGE,
        AUDIT_VIEW,
    }
)

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.ADMINISTRATOR: ALL_PERMISSIONS,
    Role.FINANCE: frozenset({VIEW, CUSTOMERS_CHANGE, MONEY_OPERATE, TARIFFS_CHANGE, AUDIT_VIEW}),
    Role.OPERATOR: frozenset(
        {VIEW, SITES_CHANGE, CUSTOMERS_CHANGE, DEVICES_CHANGE, MONEY_OPERATE, CONTROL_OPERATE}
    ),
    Role.ELECTRICIAN: frozenset({VIEW, DEVICES_CHANGE, CONTROL_OPERATE}),
    Role.VIEWER: frozenset({VIEW}),
}


def role_allows(role: str, permission: str) -> bool:
    return permission in ROLE_PERMISSIONS.get(role, frozenset())
