from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from submeter.alarms.api import NotificationViewSet
from submeter.api.auth import TokenView
from submeter.billing.api import UsageChargeViewSet
from submeter.control import api as control_api
from submeter.customers.api import CustomerViewSet
from submeter.ledger import api as ledger_api
from submeter.metering.api import GatewayViewSet, MeterViewSet, ReadingsPushView
from submeter.sites.api import BuildingViewSet, FloorViewSet, RoomViewSet
from submeter.tariffs.api import TariffViewSet

router = DefaultRouter()
router.register("buildings", BuildingViewSet, basename="building")
router.register("floors", FloorViewSet, basename="floor")
router.register("rooms", RoomViewSet, basename="room")
router.register("customers", CustomerViewSet, basename="customer")
router.register("gateways", GatewayViewSet, basename="gateway")
router.register("meters", MeterViewSet, basename="meter")
router.register("tariffs", TariffViewSet, basename="tariff")
router.register("transactions", ledger_api.TransactionViewSet, basename="transaction")
router.register("commands", control_api.CommandViewSet, basename="command")
router.register("usage-charges", UsageChargeViewSet, basename="usage-charge")
router.register("notifications", NotificationViewSet, basename="notification")

customer_money = [
    path("topups/", ledger_api.TopupView.as_view(), name="customer-topups"),
    path("refunds/", ledger_api.RefundView.as_view(), name="customer-refunds"),
    path("adjustments/", ledger_api.AdjustmentView.as_view(), name="customer-adjustments"),
    path("account/", ledger_api.AccountView.as_view(), name="customer-account"),
    path("account/open/", ledger_api.OpenAccountView.as_view(), name="customer-account-open"),
    path("account/close/", ledger_api.CloseAccountView.as_view(), name="customer-account-close"),
    path("statement/", ledger_api.StatementView.as_view(), name="customer-statement"),
]

urlpatterns = [
    path("v1/auth/token", TokenView.as_view(), name="api-token"),
    path("v1/customers/<int:customer_id>/", include(customer_money)),
    path("v1/ledger/audit/", ledger_api.LedgerAuditView.as_view(), name="ledger-audit"),
    path("v1/readings/", ReadingsPushView.as_view(), name="readings-push"),
    path(
        "v1/meters/<int:meter_id>/cutoff/arm",
        control_api.ArmCutoffView.as_view(),
        name="meter-cutoff-arm",
    ),
    path("v1/cutoffs/confirm", control_api.ConfirmCutoffView.as_view(), name="cutoff-confirm"),
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(permission_classes=[]), name="api-schema"),
    path(
        "docs/",
        SpectacularSwaggerView.as_view(url_name="api-schema", permission_classes=[]),
        name="api-docs",
    ),
]
