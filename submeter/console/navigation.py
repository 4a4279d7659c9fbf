"""Header items of the console: the current organisation and the switcher between organisations."""

from __future__ import annotations

from django.urls import reverse

from submeter.tenancy.models import Organisation
from submeter.tenancy.scoping import current_organisation_id, scope_for_request


def current_organisation_name(request) -> str:
    org_id = current_organisation_id(request)
    if org_id is None:
        return ""
    return Organisation.objects.filter(pk=org_id).values_list("name", flat=True).first() or ""


def organisation_switcher(request) -> list[dict]:
    scope = scope_for_request(request)
    if len(scope.roles) < 2:
        return []
    current = current_organisation_id(request)
    return [
        {
            "title": organisation.name,
            "link": reverse("admin:switch_organisation", args=[organisation.pk])
            + f"?next={request.path}",
            "icon": "check" if organisation.pk == current else "apartment",
            "attrs": {"data-organisation": str(organisation.pk)},
        }
        for organisation in Organisation.objects.filter(pk__in=scope.roles).order_by("name")
    ]
