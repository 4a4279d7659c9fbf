from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from submeter.api.auth import TokenView
from submeter.customers.api import CustomerViewSet
from submeter.metering.api import GatewayViewSet, MeterViewSet
from submeter.sites.api import BuildingViewSet, FloorViewSet, RoomViewSet

router = DefaultRouter()
router.register("buildings", BuildingViewSet, basename="building")
router.register("floors", FloorViewSet, basename="floor")
router.register("rooms", RoomViewSet, basename="room")
router.register("customers", CustomerViewSet, basename="customer")
router.register("gateways", GatewayViewSet, basename="gateway")
router.register("meters", MeterViewSet, basename="meter")

urlpatterns = [
    path("v1/auth/token", TokenView.as_view(), name="api-token"),
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(permission_classes=[]), name="api-schema"),
    path(
        "docs/",
        SpectacularSwaggerView.as_view(url_name="api-schema", permission_classes=[]),
        name="api-docs",
    ),
]
