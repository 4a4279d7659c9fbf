"""Every state change of customer (tenant) accounts."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils.translation import gettext as _

from submeter.customers.models import Customer
from submeter.errors import ServiceError
from submeter.sites.models import Room
from submeter.tenancy.audit import record
from submeter.tenancy.services import save_record


@transaction.atomic
def save_customer(actor, customer: Customer, rooms: Iterable[Room] | None = None) -> Customer:
    """Create or update a customer; with `rooms`, make exactly these rooms the customer's."""
    save_record(actor, customer)
    if rooms is not None:
        rooms = list(rooms)
        foreign = [room for room in rooms if room.organisation_id != customer.organisation_id]
        if foreign:
            message = _("Rooms must belong to the customer's organisation.")
            raise ServiceError("invalid", message, {"rooms": [message]})
        before = sorted(customer.rooms.values_list("pk", flat=True))
        after = sorted(room.pk for room in rooms)
        if before != after:
            Room.objects.filter(customer=customer).exclude(pk__in=after).update(customer=None)
            Room.objects.filter(pk__in=after).update(customer=customer)
            record(
                actor, "customer.rooms", customer, before={"rooms": before}, after={"rooms": after}
            )
    return customer
