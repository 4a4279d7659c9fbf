from decimal import Decimal

from rest_framework import serializers

from submeter.api.viewsets import ScopedSerializer, ScopedViewSet
from submeter.sites.models import Building, Floor, Room
from submeter.tenancy.roles import SITES_CHANGE


class BuildingSerializer(ScopedSerializer):
    class Meta:
        model = Building
        fields = ["id", "organisation", "name", "address"]


class FloorSerializer(ScopedSerializer):
    class Meta:
        model = Floor
        fields = ["id", "organisation", "building", "level", "name"]


class RoomSerializer(ScopedSerializer):
    area_m2 = serializers.DecimalField(
        max_digits=10,
        decimal_places=2,
        min_value=Decimal("0"),
        required=False,
        coerce_to_string=True,
    )

    class Meta:
        model = Room
        fields = ["id", "organisation", "floor", "number", "area_m2", "customer"]


class BuildingViewSet(ScopedViewSet):
    queryset = Building.objects.all()
    serializer_class = BuildingSerializer
    change_permission = SITES_CHANGE
    filterset_fields = ["organisation", "name"]
    search_fields = ["name", "address"]
    ordering_fields = ["name", "id"]


class FloorViewSet(ScopedViewSet):
    queryset = Floor.objects.select_related("building")
    serializer_class = FloorSerializer
    change_permission = SITES_CHANGE
    filterset_fields = ["organisation", "building", "level"]
    search_fields = ["name"]
    ordering_fields = ["level", "id"]


class RoomViewSet(ScopedViewSet):
    queryset = Room.objects.select_related("floor__building")
    serializer_class = RoomSerializer
    change_permission = SITES_CHANGE
    filterset_fields = ["organisation", "floor", "floor__building", "customer"]
    search_fields = ["number"]
    ordering_fields = ["number", "id"]
