"""Dashboard figures: rooms, tenants, meters online and offline, in the current organisation."""

from __future__ import annotations

from django.db.models import Count, Q

from submeter.customers.models import Customer, CustomerState
from submeter.metering.models import Gateway, Meter, MeterState, OnlineState
from submeter.sites.models import Building, Room
from submeter.tenancy.scoping import console_scope


def dashboard_figures(scope) -> dict[str, int]:
    meters = scope.filter(Meter.objects.filter(state=MeterState.ACTIVE)).aggregate(
        total=Count("id"),
        online=Count("id", filter=Q(online_state=OnlineState.ONLINE)),
        offline=Count("id", filter=Q(online_state=OnlineState.OFFLINE)),
        unknown=Count("id", filter=Q(online_state=OnlineState.UNKNOWN)),
    )
    gateways = scope.filter(Gateway.objects.all()).aggregate(
        total=Count("id"), offline=Count("id", filter=Q(online_state=OnlineState.OFFLINE))
    )
    return {
        "buildings": scope.filter(Building.objects.all()).count(),
        "rooms": scope.filter(Room.objects.all()).count(),
        "occupied_rooms": scope.filter(Room.objects.filter(customer__isnull=False)).count(),
        "tenants": scope.filter(Customer.objects.filter(state=CustomerState.ACTIVE)).count(),
        "meters": meters["total"],
        "meters_online": meters["online"],
        "meters_offline": meters["offline"],
        "meters_unknown": meters["unknown"],
        "gateways": gateways["total"],
        "gateways_offline": gateways["offline"],
    }


def dashboard_context(request, context):
    context["figures"] = dashboard_figures(console_scope(request))
    return context
