from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from submeter.api.viewsets import ScopedSerializer, ScopedViewSet
from submeter.engine import quote
from submeter.tariffs.models import Tariff
from submeter.tenancy.roles import TARIFFS_CHANGE


class TariffSerializer(ScopedSerializer):
    document = serializers.JSONField()
    versions = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = Tariff
        fields = [
            "id",
            "organisation",
            "name",
            "utility",
            "document",
            "versions",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]


class TariffViewSet(ScopedViewSet):
    """Price schemes. `POST /api/v1/tariffs/{id}/quote/` rates a usage document against one."""

    queryset = Tariff.objects.all()
    serializer_class = TariffSerializer
    change_permission = TARIFFS_CHANGE
    filterset_fields = ["organisation", "utility"]
    search_fields = ["name"]
    ordering_fields = ["name", "id", "updated_at"]

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["post"])
    def quote(self, request, pk=None):
        """Preview a bill: the usage document (docs/tariffs.md §7) in, the bill lines out."""
        tariff = self.get_object()
        return Response(quote(tariff.document, request.data))

    def get_permissions(self):
        if self.action == "quote":
            from submeter.api.permissions import ReadPermission

            return [ReadPermission()]
        return super().get_permissions()
