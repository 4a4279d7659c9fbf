"""Query-parameter filters of every REST resource (`?gateway=3`), limited to the caller's scope."""

from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend

from submeter.tenancy.models import Organisation, OrganisationOwned
from submeter.tenancy.scoping import scope_for_request


class ScopedFilterBackend(DjangoFilterBackend):
    """django-filter accepts any row of a related model as a filter value, so an id of another
    organisation would answer an empty list where an unknown id answers 400, telling that it
    exists. The accepted values are narrowed to the caller's scope: both answer the same 400."""

    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        if filterset is None:
            return None
        scope = scope_for_request(request)
        for name, value_filter in filterset.filters.items():
            related = getattr(value_filter, "queryset", None)
            if related is None or callable(related):
                continue
            if related.model is Organisation:
                value_filter.queryset = related.filter(pk__in=scope.organisation_ids)
            elif issubclass(related.model, OrganisationOwned):
                value_filter.queryset = scope.filter(related)
            else:
                raise TypeError(f"filter {name!r} of {view} is not scoped")
        return filterset
