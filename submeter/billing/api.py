"""REST: the usage charges, read-only, scoped, filterable by meter, customer and date."""

from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers

from submeter.api.viewsets import ScopedViewSet
from submeter.billing.models import UsageCharge
from submeter.errors import ServiceError


class UsageChargeSerializer(serializers.ModelSerializer):
    register_from = serializers.DecimalField(max_digits=18, decimal_places=3)
    register_to = serializers.DecimalField(max_digits=18, decimal_places=3)
    quantity = serializers.DecimalField(max_digits=18, decimal_places=6)
    free_quantity = serializers.DecimalField(max_digits=18, decimal_places=6)
    amount_exact = serializers.CharField()
    posted_amount = serializers.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        model = UsageCharge
        fields = [
            "id",
            "organisation",
            "meter",
            "customer",
            "utility",
            "month",
            "interval_start",
            "interval_end",
            "register_from",
            "register_to",
            "quantity",
            "quantity_by_rate",
            "free_quantity",
            "estimated",
            "tariff",
            "tariff_version",
            "lines",
            "amount_exact",
            "posted_amount",
            "month_end",
            "transaction",
        ]
        read_only_fields = fields


DATE_FILTERS = [
    OpenApiParameter("from", str, description="interval end on or after this local date"),
    OpenApiParameter("to", str, description="interval end before the day after this date"),
]


@extend_schema_view(list=extend_schema(parameters=DATE_FILTERS))
class UsageChargeViewSet(ScopedViewSet):
    queryset = UsageCharge.objects.all()
    serializer_class = UsageChargeSerializer
    http_method_names = ["get", "head", "options"]
    filterset_fields = ["organisation", "meter", "customer", "utility", "estimated", "month"]
    ordering_fields = ["interval_end", "id"]

    def get_queryset(self):
        queryset = super().get_queryset()
        for param, lookup in (
            ("from", "interval_end__date__gte"),
            ("to", "interval_end__date__lte"),
        ):
            value = self.request.query_params.get(param)
            if not value:
                continue
            day = parse_date(value)
            if day is None:
                message = _("Give a date as YYYY-MM-DD.")
                raise ServiceError("invalid", message, {param: [message]})
            queryset = queryset.filter(**{lookup: day})
        return queryset
