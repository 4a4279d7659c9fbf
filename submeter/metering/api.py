from decimal import Decimal

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiTypes, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.parsers import BaseParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from submeter.api.viewsets import ScopedSerializer, ScopedViewSet
from submeter.errors import ServiceError
from submeter.metering.ingest import ReadingIn, ingest
from submeter.metering.models import Gateway, Meter, ReadingSource
from submeter.protocols.errors import PayloadError
from submeter.protocols.mqtt_payloads import parse_readings
from submeter.tenancy.roles import DEVICES_CHANGE
from submeter.tenancy.scoping import scope_for_request


class RawJSONParser(BaseParser):
    """Hands the body's bytes to our own payload parser (which refuses numbers for registers)."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream.read()


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
            "tariff",
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
        "tariff",
        "phases",
    ]
    search_fields = ["address", "serial", "model"]
    ordering_fields = ["address", "id", "last_reading_at"]


class ReadingsPushView(APIView):
    """HTTP push of readings: the body is an MQTT `up/readings` document (docs/mqtt.md),
    for the gateway `gateway_id` of one of the caller's organisations."""

    permission_classes = [IsAuthenticated]
    parser_classes = [RawJSONParser]

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={
            200: inline_serializer(
                "IngestAnswer",
                {
                    "stored": serializers.IntegerField(),
                    "duplicates": serializers.IntegerField(),
                    "quarantined": serializers.IntegerField(),
                },
            )
        },
    )
    def post(self, request):
        try:
            message = parse_readings(request.data)
        except PayloadError as exc:
            field = exc.path or "__all__"
            raise ServiceError("invalid_payload", str(exc), {field: [str(exc)]}) from exc
        scope = scope_for_request(request)
        gateway = (
            Gateway.objects.filter(
                organisation_id__in=scope.organisations_allowing(DEVICES_CHANGE),
                serial=message.gateway_id,
            )
            .only("organisation_id", "serial")
            .first()
        )
        if gateway is None:
            raise NotFound(_("No gateway with this id in your organisations."))
        result = ingest(
            [
                ReadingIn(
                    organisation_id=gateway.organisation_id,
                    meter_address=item.meter_address,
                    timestamp=item.timestamp,
                    registers=item.registers,
                    source=ReadingSource.HTTP,
                    gateway_serial=gateway.serial,
                )
                for item in message.readings
            ]
        )
        return Response(
            {
                "stored": result.stored,
                "duplicates": result.duplicates,
                "quarantined": result.quarantined,
            }
        )
