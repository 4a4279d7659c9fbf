"""The base of every console list and form: scoped to the current organisation, role-checked,
saved through services (which write the audit log), exportable to Excel."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import get_fields_from_path
from django.core.exceptions import FieldDoesNotExist
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin

from submeter.console.exports import export_queryset
from submeter.errors import ServiceError
from submeter.tenancy import services as tenancy_services
from submeter.tenancy.models import Organisation, OrganisationOwned
from submeter.tenancy.roles import VIEW
from submeter.tenancy.scoping import console_scope, current_organisation_id

EXPORT_PARAM = "_export"


class ScopedRelatedChoices:
    """A list filter on a relation offers only the related objects in the console's scope.

    Django's related filters offer every row of the related model, which would show the names of
    other organisations' buildings, gateways and tenants in the filter dropdowns.
    """

    def field_choices(self, field, request, model_admin):
        related = field.related_model
        scope = model_admin.scope(request)
        if related is Organisation:
            limit = {"pk__in": scope.organisation_ids}
        elif issubclass(related, OrganisationOwned):
            limit = {"organisation__in": scope.organisation_ids}
        else:  # e.g. users: those the visible rows point at
            limit = {
                "pk__in": model_admin.get_queryset(request)
                .distinct()
                .values_list(f"{self.field_path}__pk", flat=True)
            }
        ordering = self.field_admin_ordering(field, request, model_admin)
        return field.get_choices(include_blank=False, limit_choices_to=limit, ordering=ordering)


_scoped_filter_classes: dict[type, type] = {}


def scoped_filter_class(filter_class: type) -> type:
    """`filter_class` (a related-field list filter) restricted to the console's scope."""
    if filter_class not in _scoped_filter_classes:
        _scoped_filter_classes[filter_class] = type(
            f"Scoped{filter_class.__name__}", (ScopedRelatedChoices, filter_class), {}
        )
    return _scoped_filter_classes[filter_class]


class ScopedAdmin(ModelAdmin):
    """Console admin for an organisation-owned model.

    `change_permission` names the permission (submeter.tenancy.roles) needed to add, change or
    delete; viewing needs VIEW. Objects outside the current organisation's scope are 404.
    """

    change_permission: str = ""
    organisation_field = "organisation"
    export_columns: tuple[str, ...] = ()
    list_per_page = 50
    list_filter_submit = True
    warn_unsaved_form = True

    # -- scope ---------------------------------------------------------------------------------
    def scope(self, request):
        return console_scope(request)

    def get_queryset(self, request):
        return self.scope(request).filter(super().get_queryset(request), self.organisation_field)

    def _object_organisation_id(self, obj) -> int | None:
        current = obj
        for part in self.organisation_field.split("__"):
            if part == "organisation":
                return current.organisation_id
            current = getattr(current, part)
        return None

    def has_module_permission(self, request) -> bool:
        return self.scope(request).can(VIEW)

    def has_view_permission(self, request, obj=None) -> bool:
        if obj is None:
            return self.scope(request).can(VIEW)
        return self.scope(request).can(VIEW, self._object_organisation_id(obj))

    def _can_change(self, request, obj=None) -> bool:
        if not self.change_permission:
            return False
        if obj is None:
            return self.scope(request).can(self.change_permission)
        return self.scope(request).can(self.change_permission, self._object_organisation_id(obj))

    def has_add_permission(self, request) -> bool:
        return self._can_change(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._can_change(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._can_change(request, obj)

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        raise Http404(_("Not found."))

    def get_list_filter(self, request):
        """The declared filters, with every filter on a relation limited to the scope."""
        return [self._scoped_list_filter(spec) for spec in super().get_list_filter(request)]

    def _scoped_list_filter(self, spec):
        if isinstance(spec, tuple):
            path, filter_class = spec
        elif isinstance(spec, str):
            path, filter_class = spec, admin.RelatedFieldListFilter
        else:
            return spec
        if not issubclass(filter_class, admin.RelatedFieldListFilter) or issubclass(
            filter_class, admin.RelatedOnlyFieldListFilter
        ):
            return spec
        try:
            field = get_fields_from_path(self.model, path)[-1]
        except FieldDoesNotExist:
            return spec
        if not field.is_relation or field.related_model is None:
            return spec
        return (path, scoped_filter_class(filter_class))

    # -- forms ---------------------------------------------------------------------------------
    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        scope = self.scope(request)
        if db_field.related_model is Organisation and db_field.name == "organisation":
            kwargs["queryset"] = Organisation.objects.filter(
                pk__in=scope.organisations_allowing(self.change_permission or VIEW)
            )
        elif issubclass(db_field.related_model, OrganisationOwned):
            kwargs["queryset"] = scope.filter(db_field.related_model._default_manager.all())
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        if self.organisation_field == "organisation":
            initial.setdefault("organisation", current_organisation_id(request))
        return initial

    # -- saving through services -----------------------------------------------------------------
    def save_model(self, request, obj, form, change):
        tenancy_services.save_record(request.user, obj)

    def delete_model(self, request, obj):
        tenancy_services.delete_record(request.user, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except ServiceError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            from django.shortcuts import redirect

            return redirect(request.path.rsplit("/delete/", 1)[0] + "/change/")

    def response_action(self, request, queryset):
        try:
            return super().response_action(request, queryset)
        except ServiceError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            from django.http import HttpResponseRedirect

            return HttpResponseRedirect(request.get_full_path())

    # The audit log (tenancy.AuditEntry) is written by the services; Django's own log is not used.
    def log_addition(self, request, obj, message):
        return None

    def log_change(self, request, obj, message):
        return None

    def log_deletion(self, request, obj, object_repr):
        return None

    def log_deletions(self, request, queryset):
        return None

    # -- Excel export --------------------------------------------------------------------------
    def get_export_columns(self, request) -> tuple[str, ...]:
        return self.export_columns or tuple(
            name for name in self.get_list_display(request) if name != "action_checkbox"
        )

    def changelist_view(self, request, extra_context=None):
        if request.GET.get(EXPORT_PARAM) == "xlsx":
            query = request.GET.copy()
            del query[EXPORT_PARAM]
            request.GET = query
            changelist = self.get_changelist_instance(request)
            queryset = changelist.get_queryset(request)
            return export_queryset(self, queryset, self.get_export_columns(request))
        query = request.GET.copy()
        query[EXPORT_PARAM] = "xlsx"
        extra_context = {**(extra_context or {}), "export_query": query.urlencode()}
        return super().changelist_view(request, extra_context)

    @admin.action(description=_("Export selected to Excel"))
    def export_selected(self, request, queryset):
        return export_queryset(self, queryset, self.get_export_columns(request))

    actions = ["export_selected"]


class ScopedReadOnlyAdmin(ScopedAdmin):
    """A list that can be browsed and exported but not edited (e.g. the audit log)."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
