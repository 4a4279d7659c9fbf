"""Base of every REST resource: scoped to the caller's organisations, saved through services."""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework import serializers, viewsets

from submeter.errors import ServiceError
from submeter.tenancy import services as tenancy_services
from submeter.tenancy.models import Organisation, OrganisationOwned
from submeter.tenancy.scoping import scope_for_request


class ScopedSerializer(serializers.ModelSerializer):
    """`organisation` is chosen at creation among the caller's organisations and is then fixed;
    links to other organisation-owned objects only accept objects the caller can see."""

    organisation = serializers.PrimaryKeyRelatedField(
        queryset=Organisation.objects.none(), required=False
    )

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is None:
            return fields
        scope = scope_for_request(request)
        permission = getattr(self.context.get("view"), "change_permission", "")
        for name, field in fields.items():
            if not isinstance(field, serializers.PrimaryKeyRelatedField) or field.read_only:
                continue
            model = field.queryset.model if field.queryset is not None else None
            if model is Organisation and name == "organisation":
                field.queryset = Organisation.objects.filter(
                    pk__in=scope.organisations_allowing(permission)
                )
            elif model is not None and issubclass(model, OrganisationOwned):
                field.queryset = scope.filter(model._default_manager.all())
        if self.instance is not None and "organisation" in fields:
            fields["organisation"].read_only = True
        return fields

    def get_validators(self):
        # Unique constraints are checked by the services (model full_clean), with clear messages,
        # after the organisation has been resolved.
        return []

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if self.instance is None and "organisation" not in attrs:
            request = self.context["request"]
            permission = getattr(self.context.get("view"), "change_permission", "")
            allowed = scope_for_request(request).organisations_allowing(permission)
            if len(allowed) != 1:
                message = _("Choose the organisation.")
                raise serializers.ValidationError({"organisation": [message]})
            attrs["organisation"] = Organisation.objects.get(pk=next(iter(allowed)))
        return attrs

    def create(self, validated_data):
        instance = self.Meta.model(**validated_data)
        return self.save_instance(instance)

    def update(self, instance, validated_data):
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return self.save_instance(instance)

    def save_instance(self, instance):
        return tenancy_services.save_record(self.context["request"].user, instance)


class ScopedViewSet(viewsets.ModelViewSet):
    """List/create/read/update/delete of an organisation-owned model.

    Objects outside the caller's scope are 404. `?organisation=<id>` narrows a list.
    """

    change_permission = ""
    organisation_field = "organisation"
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def get_queryset(self):
        queryset = scope_for_request(self.request).filter(
            super().get_queryset(), self.organisation_field
        )
        organisation = self.request.query_params.get("organisation")
        if organisation:
            if not organisation.isdigit():
                raise ServiceError(
                    "invalid",
                    _("organisation must be an id."),
                    {"organisation": [_("A number is required.")]},
                )
            queryset = queryset.filter(**{f"{self.organisation_field}_id": int(organisation)})
        return queryset

    def object_organisation_id(self, obj) -> int | None:
        return getattr(obj, "organisation_id", None)

    def perform_create(self, serializer):
        organisation = serializer.validated_data.get("organisation")
        if organisation is not None and not scope_for_request(self.request).can(
            self.change_permission, organisation.pk
        ):
            raise ServiceError("permission_denied", _("You may not add objects here."), status=403)
        serializer.save()

    def perform_destroy(self, instance):
        tenancy_services.delete_record(self.request.user, instance)
