from rest_framework.permissions import SAFE_METHODS, BasePermission

from submeter.tenancy.roles import VIEW
from submeter.tenancy.scoping import scope_for_request


class RolePermission(BasePermission):
    """Reading needs VIEW; writing needs the view's `change_permission` in the object's
    organisation (the organisation of a new object is checked when it is saved)."""

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        scope = scope_for_request(request)
        if request.method in SAFE_METHODS:
            return scope.can(VIEW)
        permission = getattr(view, "change_permission", "")
        return bool(permission) and scope.can(permission)

    def has_object_permission(self, request, view, obj) -> bool:
        scope = scope_for_request(request)
        organisation_id = view.object_organisation_id(obj)
        if request.method in SAFE_METHODS:
            return scope.can(VIEW, organisation_id)
        return scope.can(getattr(view, "change_permission", ""), organisation_id)


class ReadPermission(BasePermission):
    """For POST actions that change nothing (a quote): VIEW in the object's organisation."""

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated) and scope_for_request(
            request
        ).can(VIEW)

    def has_object_permission(self, request, view, obj) -> bool:
        return scope_for_request(request).can(VIEW, view.object_organisation_id(obj))
