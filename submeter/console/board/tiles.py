"""The room board's read model: one tile per room with its state, built in one query per model.

A tile carries flags (a room can be offline and cut off at once) and one `state`, the flag that
decides its colour: vacant, then offline, cut off, arrears, low balance, normal. Missing rows
mean the quiet default: no prepaid policy yet is normal, no supply state is supply on.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from submeter.control.models import PrepaidPolicy, SupplyPhase
from submeter.customers.models import Customer
from submeter.ledger.choices import AccountKind
from submeter.ledger.models import Account
from submeter.metering.models import Meter, MeterState, OnlineState
from submeter.sites.models import Room

# Supply is off (or not yet back on) in these phases.
OFF_PHASES = frozenset(
    {SupplyPhase.DISCONNECT_SENT, SupplyPhase.DISCONNECTED, SupplyPhase.RECONNECT_SENT}
)


class TileState(models.TextChoices):
    NORMAL = "normal", _("Normal")
    LOW = "low", _("Low balance")
    ARREARS = "arrears", _("Arrears")
    CUT = "cut", _("Cut off")
    PENDING = "pending", _("Cut-off pending")
    OFFLINE = "offline", _("Offline")
    PROTECTED = "protected", _("Protected (保电)")
    VACANT = "vacant", _("Vacant")


# The flag that colours a tile, strongest first; PENDING and PROTECTED are marks, not colours.
COLOUR_ORDER = (
    TileState.VACANT,
    TileState.OFFLINE,
    TileState.CUT,
    TileState.ARREARS,
    TileState.LOW,
)


@dataclass
class Tile:
    room: Room
    customer: Customer | None
    balance: Decimal | None
    alarm_level: int = 0
    flags: frozenset[str] = frozenset()
    meter_count: int = 0
    forecast_zero_at: datetime | None = None

    @property
    def state(self) -> str:
        for state in COLOUR_ORDER:
            if state in self.flags:
                return state
        return TileState.NORMAL

    @property
    def balance_text(self) -> str:
        return "" if self.balance is None else f"{self.balance:.2f}"

    @property
    def state_label(self) -> str:
        return TileState(self.state).label

    @property
    def protected(self) -> bool:
        return TileState.PROTECTED in self.flags

    @property
    def cut(self) -> bool:
        return TileState.CUT in self.flags

    @property
    def pending(self) -> bool:
        return TileState.PENDING in self.flags

    @property
    def offline(self) -> bool:
        return TileState.OFFLINE in self.flags


@dataclass
class FloorGroup:
    floor_id: int
    name: str
    tiles: list[Tile] = field(default_factory=list)


@dataclass
class BuildingGroup:
    building_id: int
    name: str
    floors: list[FloorGroup] = field(default_factory=list)

    @property
    def room_count(self) -> int:
        return sum(len(floor.tiles) for floor in self.floors)


def floor_name(floor) -> str:
    return floor.name or _("Floor %(level)s") % {"level": floor.level}


def build_tiles(rooms) -> list[Tile]:
    """Tiles for a queryset of rooms: rooms, meters (with supply), wallets, policies — 4 queries."""
    rooms = list(rooms.select_related("floor__building", "customer").order_by(*Room._meta.ordering))
    room_ids = [room.pk for room in rooms]
    customer_ids = {room.customer_id for room in rooms if room.customer_id}
    meters_by_room: dict[int, list[Meter]] = {}
    for meter in (
        Meter.objects.filter(room_id__in=room_ids, state=MeterState.ACTIVE)
        .select_related("supply")
        .only("id", "room_id", "online_state", "supply__phase", "supply__manual_hold")
    ):
        meters_by_room.setdefault(meter.room_id, []).append(meter)
    wallets = {
        customer_id: balance
        for customer_id, balance in Account.objects.filter(
            customer_id__in=customer_ids, kind=AccountKind.WALLET
        ).values_list("customer_id", "balance")
    }
    policies = {
        policy.customer_id: policy
        for policy in PrepaidPolicy.objects.filter(customer_id__in=customer_ids).only(
            "customer_id", "protected", "alarm_level", "in_arrears", "forecast_zero_at"
        )
    }
    return [
        _tile(room, meters_by_room.get(room.pk, []), wallets, policies.get(room.customer_id))
        for room in rooms
    ]


def _tile(room: Room, meters: list[Meter], wallets: dict, policy: PrepaidPolicy | None) -> Tile:
    flags: set[str] = set()
    for meter in meters:
        if meter.online_state != OnlineState.ONLINE:
            flags.add(TileState.OFFLINE)
        supply = getattr(meter, "supply", None)
        if supply is not None:
            if supply.phase in OFF_PHASES or supply.manual_hold:
                flags.add(TileState.CUT)
            elif supply.phase == SupplyPhase.PENDING_DISCONNECT:
                flags.add(TileState.PENDING)
    if room.customer_id is None:
        flags.add(TileState.VACANT)
        return Tile(room, None, None, flags=frozenset(flags), meter_count=len(meters))
    tile = Tile(
        room,
        room.customer,
        wallets.get(room.customer_id, Decimal("0.00")),
        meter_count=len(meters),
    )
    if policy is not None:
        tile.alarm_level = policy.alarm_level
        tile.forecast_zero_at = policy.forecast_zero_at
        if policy.in_arrears:
            flags.add(TileState.ARREARS)
        elif policy.alarm_level >= 1:
            flags.add(TileState.LOW)
        if policy.protected:
            flags.add(TileState.PROTECTED)
    tile.flags = frozenset(flags)
    return tile


def state_counts(tiles: list[Tile]) -> dict[str, int]:
    """How many tiles carry each flag (normal: tiles with nothing to report)."""
    counts: Counter[str] = Counter()
    for tile in tiles:
        counts.update(tile.flags)
        if tile.state == TileState.NORMAL:
            counts[TileState.NORMAL] += 1
    return {state: counts.get(state, 0) for state in TileState.values}


def with_state(tiles: list[Tile], state: str) -> list[Tile]:
    if state == TileState.NORMAL:
        return [tile for tile in tiles if tile.state == TileState.NORMAL]
    return [tile for tile in tiles if state in tile.flags]


def grouped(tiles: list[Tile]) -> list[BuildingGroup]:
    """Tiles by building, then floor, in the rooms' order."""
    buildings: dict[int, BuildingGroup] = {}
    floors: dict[int, FloorGroup] = {}
    for tile in tiles:
        floor = tile.room.floor
        building = buildings.get(floor.building_id)
        if building is None:
            building = buildings[floor.building_id] = BuildingGroup(
                floor.building_id, floor.building.name
            )
        group = floors.get(floor.pk)
        if group is None:
            group = floors[floor.pk] = FloorGroup(floor.pk, floor_name(floor))
            building.floors.append(group)
        group.tiles.append(tile)
    return list(buildings.values())
