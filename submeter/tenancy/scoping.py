"""The one scoping mechanism: which organisations a user may see, and with what role.

Every console view, API endpoint and (later) portal page filters its querysets through a `Scope`
and asks it for permissions. An object outside the scope is answered 404, never 403, so that its
existence does not leak.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.http import Http404

from submeter.tenancy.roles import Role, role_allows

# When several paths give a user roles in one organisation, the strongest wins.
_ROLE_STRENGTH = {
    Role.ADMINISTRATOR: 5,
    Role.OPERATOR: 4,
    Role.FINANCE: 3,
    Role.ELECTRICIAN: 2,
    Role.VIEWER: 1,
}


@dataclass(frozen=True)
class Scope:
    """Visible organisations, each with the user's effective role there."""

    roles: Mapping[int, str] = field(default_factory=dict)

    @property
    def organisation_ids(self) -> frozenset[int]:
        return frozenset(self.roles)

    def role_in(self, organisation_id: int | None) -> str | None:
        return self.roles.get(organisation_id) if organisation_id is not None else None

    def can(self, permission: str, organisation_id: int | None = None) -> bool:
        """May the user do `permission` in this organisation (or, with None, in any visible one)?"""
        if organisation_id is None:
            return any(role_allows(role, permission) for role in self.roles.values())
        role = self.roles.get(organisation_id)
        return role is not None and role_allows(role, permission)

    def organisations_allowing(self, permission: str) -> frozenset[int]:
        return frozenset(org for org, role in self.roles.items() if role_allows(role, permission))

    def filter(self, queryset: QuerySet, field: str = "organisation") -> QuerySet:
        return queryset.filter(**{f"{field}__in": self.organisation_ids})

    def get(self, queryset: QuerySet, field: str = "organisation", **lookup) -> object:
        """The object matching `lookup` inside the scope, or Http404."""
        try:
            return self.filter(queryset, field).get(**lookup)
        except (queryset.model.DoesNotExist, ValueError, TypeError) as exc:
            raise Http404 from exc

    def narrowed_to(self, organisation_id: int) -> Scope:
        """The part of this scope under one organisation (the console's current organisation)."""
        from submeter.tenancy.models import Organisation

        if organisation_id not in self.roles:
            return Scope()
        subtree = _subtree(
            _children_map(Organisation.objects.values_list("id", "parent_id")), [organisation_id]
        )
        return Scope({org: role for org, role in self.roles.items() if org in subtree})


def _children_map(pairs: Iterable[tuple[int, int | None]]) -> dict[int | None, list[int]]:
    children: dict[int | None, list[int]] = defaultdict(list)
    for org_id, parent_id in pairs:
        children[parent_id].append(org_id)
    return children


def _subtree(children: Mapping[int | None, list[int]], roots: Iterable[int]) -> set[int]:
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        org_id = stack.pop()
        if org_id in seen:
            continue
        seen.add(org_id)
        stack.extend(children.get(org_id, ()))
    return seen


def _grant(roles: dict[int, str], org_ids: Iterable[int], role: str) -> None:
    for org_id in org_ids:
        current = roles.get(org_id)
        if current is None or _ROLE_STRENGTH[role] > _ROLE_STRENGTH[current]:
            roles[org_id] = role


def scope_for_user(user) -> Scope:
    """Compute the scope from memberships (covering sub-organisations) and active access grants."""
    from submeter.tenancy.models import AccessGrant, Membership, Organisation

    if user is None or not user.is_authenticated or not user.is_active:
        return Scope()
    organisations = Organisation.objects.filter(is_active=True).values_list("id", "parent_id")
    children = _children_map(organisations)
    active_ids = {org_id for org_id, _parent in organisations}
    roles: dict[int, str] = {}
    if user.is_superuser:
        _grant(roles, active_ids, Role.ADMINISTRATOR)
        return Scope(roles)
    memberships = Membership.objects.filter(
        user=user, is_active=True, organisation__is_active=True
    ).values_list("organisation_id", "role")
    member_of: set[int] = set()
    for org_id, role in memberships:
        subtree = _subtree(children, [org_id])
        member_of |= subtree
        _grant(roles, subtree, role)
    if member_of:
        grants = AccessGrant.objects.filter(
            grantee_id__in=member_of, revoked_at__isnull=True, organisation__is_active=True
        ).values_list("organisation_id", "role")
        for org_id, role in grants:
            _grant(roles, _subtree(children, [org_id]) & active_ids, role)
    return Scope({org: role for org, role in roles.items() if org in active_ids})


def scope_for_request(request) -> Scope:
    """The user's whole scope, computed once per request."""
    user = getattr(request, "user", None)
    cached = getattr(request, "_submeter_scope", None)
    if cached is not None and cached[0] == getattr(user, "pk", None):
        return cached[1]
    scope = scope_for_user(user)
    request._submeter_scope = (getattr(user, "pk", None), scope)
    return scope


CURRENT_ORGANISATION_SESSION_KEY = "submeter_organisation_id"


def current_organisation_id(request) -> int | None:
    """The organisation the console user is working in (chosen with the switcher)."""
    scope = scope_for_request(request)
    chosen = (
        request.session.get(CURRENT_ORGANISATION_SESSION_KEY)
        if hasattr(request, "session")
        else None
    )
    if chosen in scope.roles:
        return chosen
    return _topmost(scope)


def _topmost(scope: Scope) -> int | None:
    """The default working organisation: the one whose subtree is largest in the scope."""
    if not scope.roles:
        return None
    from submeter.tenancy.models import Organisation

    children = _children_map(Organisation.objects.values_list("id", "parent_id"))
    return max(
        sorted(scope.roles), key=lambda org: len(_subtree(children, [org]) & set(scope.roles))
    )


def console_scope(request) -> Scope:
    """The scope of console pages: the current organisation and everything under it (computed
    once per request and organisation: every admin's permission check asks for it)."""
    org_id = current_organisation_id(request)
    if org_id is None:
        return Scope()
    user_id = getattr(getattr(request, "user", None), "pk", None)
    cached = getattr(request, "_submeter_console_scope", None)
    if cached is not None and cached[:2] == (user_id, org_id):
        return cached[2]
    scope = scope_for_request(request).narrowed_to(org_id)
    request._submeter_console_scope = (user_id, org_id, scope)
    return scope
