from decimal import Decimal

from rest_framework import serializers

from submeter.api.viewsets import ScopedSerializer, ScopedViewSet
from submeter.metering.models import Gateway, Meter
from submeter.tenancy.roles import DEVICES_CHANGE


class GatewaySerializer(ScopedSerializer):
    class Meta:
        model = Gateway
        fields = [
            "id",
            "organisation",
            "name",
            "serial",
            "protocol",
            "address",
            "online_state",
            "last_seen_at",
        ]
        read_only_fields = ["online_state", "last_seen_at"]


class MeterSerializer(ScopedSerializer):
    ct_ratio = serializers.DecimalField(
        max_digits=10, decimal_places=2, min_value=Decimal("0.01"), required=False
    )
    rated_power_kw = serializers.DecimalField(
        max_digits=10, decimal_places=3, min_value=Decimal("0"), required=False, allow_null=True
    )

    class Meta:
        model = Meter
        fields = [
            "id",
            "organisation",
            "kind",
            "phases",
            "address",
            "serial",
            "model",
            "ct_ratio",
            "rated_power_kw",
            "gateway",
            "room",
            "customer",
            "state",
            "online_state",
            "last_reading_at",
        ]
        read_only_fields = ["online_state", "last_reading_at"]


class GatewayViewSet(ScopedViewSet):
    queryset = Gateway.objects.all()
    serializer_class = GatewaySerializer
    change_permission = DEVICES_CHANGE
    filterset_fields = ["organisation", "protocol", "online_state"]
    search_fields = ["name", "serial", "address"]
    ordering_fields = ["name", "id"]


class MeterViewSet(ScopedViewSet):
    queryset = Meter.objects.all()
    serializer_class = MeterSerializer
    change_permission = DEVICES_CHANGE
    filterset_fields = [
        "organisation",
        "kind",
        "state",
        "online_state",
        "gateway",
        "room",
        "customer",
        "phases",
    ]
    search_fields = ["address", "serial", "model"]
    ordering_fields = ["address", "id", "last_reading_at"]
