"""The room monitoring board (房间监控) and a room's page with its control dialogs.

The board is a grid of room tiles for the current organisation, refreshed every few seconds;
a room's page shows balance, forecast, meters and recent commands, with buttons that open a
confirmation dialog and call one service each: the ledger's top-up dialog, the two-step manual
cut-off (`control.services.arm_cutoff` on opening, `confirm_cutoff` on confirming),
`control.policy.restore` and `control.policy.set_protected`. The services write the audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from unfold.widgets import UnfoldAdminSelectWidget, UnfoldAdminTextInputWidget

from submeter.console.board.tiles import TileState, build_tiles, grouped, state_counts, with_state
from submeter.control import policy as supply_policy
from submeter.control import services as control
from submeter.control.models import Command, PrepaidPolicy, SupplyPhase
from submeter.errors import ServiceError
from submeter.ledger import services as ledger
from submeter.ledger.admin import show_service_error
from submeter.metering.models import CUMULATIVE_FIELDS, INSTANTANEOUS_FIELDS, Meter, Reading
from submeter.sites.models import Building, Floor, Room
from submeter.tenancy.roles import CONTROL_OPERATE, MONEY_OPERATE, VIEW
from submeter.tenancy.scoping import console_scope

REFRESH_SECONDS = 10
RECENT_COMMANDS = 20
RESTORABLE_PHASES = frozenset(
    {
        SupplyPhase.PENDING_DISCONNECT,
        SupplyPhase.DISCONNECT_SENT,
        SupplyPhase.DISCONNECTED,
        SupplyPhase.UNKNOWN,
    }
)
TOKEN_ERRORS = frozenset({"token_expired", "token_invalid", "token_other_user"})


# -- forms ---------------------------------------------------------------------------------------


class BoardFilterForm(forms.Form):
    building = forms.TypedChoiceField(
        label=_("building"), coerce=int, required=False, widget=UnfoldAdminSelectWidget
    )
    floor = forms.TypedChoiceField(
        label=_("floor"), coerce=int, required=False, widget=UnfoldAdminSelectWidget
    )
    state = forms.ChoiceField(
        label=_("state"),
        choices=[("", _("All states")), *TileState.choices],
        required=False,
        widget=UnfoldAdminSelectWidget,
    )
    q = forms.CharField(
        label=_("Room or tenant"),
        max_length=100,
        required=False,
        widget=UnfoldAdminTextInputWidget(attrs={"type": "search"}),
    )

    def __init__(self, data, *, buildings, floors):
        super().__init__(data)
        self.fields["building"].choices = [("", _("All buildings")), *buildings]
        self.fields["floor"].choices = [("", _("All floors")), *floors]


def reason_field(required: bool) -> forms.CharField:
    return forms.CharField(
        label=capfirst(_("reason")),
        max_length=200,
        required=required,
        widget=UnfoldAdminTextInputWidget(attrs={"autofocus": True}),
    )


class CutForm(forms.Form):
    reason = reason_field(required=True)
    token = forms.CharField(widget=forms.HiddenInput, max_length=1000)


class RestoreForm(forms.Form):
    reason = reason_field(required=True)


class ProtectForm(forms.Form):
    reason = reason_field(required=False)
    protect = forms.TypedChoiceField(
        choices=[("1", "1"), ("0", "0")],
        coerce=lambda value: value == "1",
        widget=forms.HiddenInput,
    )


@dataclass
class RoomDialog:
    """One confirmation dialog of a room: what it asks, and what confirming does.

    `perform(data)` calls the service and answers the success message; a ServiceError is shown
    on the form and nothing has changed.
    """

    name: str
    title: str
    sentence: str
    form: forms.Form | None
    perform: Callable[[dict], str]
    confirm_label: str
    danger: bool = False
    refusal: str = ""
    on_error: Callable[[ServiceError], None] | None = None
    details: list[tuple[str, str]] = field(default_factory=list)


# -- the views -------------------------------------------------------------------------------------


class RoomBoard:
    """The board's views, served by the console site under `board/`."""

    def __init__(self, site) -> None:
        self.site = site

    def urls(self) -> list:
        def view(route, function, name):
            return path(route, self.site.admin_view(function), name=name)

        return [
            view("board/", self.board_view, "console_board"),
            view("board/tiles/", self.tiles_view, "console_board_tiles"),
            view("board/room/<int:room_id>/", self.room_view, "console_room"),
            view("board/room/<int:room_id>/protect/", self.protect_view, "console_room_protect"),
            view(
                "board/room/<int:room_id>/meter/<int:meter_id>/cut/",
                self.cut_view,
                "console_room_cut",
            ),
            view(
                "board/room/<int:room_id>/meter/<int:meter_id>/restore/",
                self.restore_view,
                "console_room_restore",
            ),
        ]

    # -- board -----------------------------------------------------------------------------------
    def board_context(self, request) -> dict:
        scope = console_scope(request)
        if not scope.can(VIEW):
            raise PermissionDenied
        buildings = list(scope.filter(Building.objects.all()).values_list("id", "name"))
        data = request.GET.copy()
        building_id = _int(data.get("building"))
        floors_queryset = scope.filter(Floor.objects.all())
        if building_id:
            floors_queryset = floors_queryset.filter(building_id=building_id)
        floors = [
            (floor_id, f"{building} · {name or _('Floor %(level)s') % {'level': level}}")
            for floor_id, building, name, level in floors_queryset.values_list(
                "id", "building__name", "name", "level"
            )
        ]
        if _int(data.get("floor")) not in {floor_id for floor_id, _label in floors}:
            data.pop("floor", None)
        filters = BoardFilterForm(data, buildings=buildings, floors=floors)
        filters.is_valid()
        cleaned = getattr(filters, "cleaned_data", {})
        rooms = scope.filter(Room.objects.all())
        if cleaned.get("building"):
            rooms = rooms.filter(floor__building_id=cleaned["building"])
        if cleaned.get("floor"):
            rooms = rooms.filter(floor_id=cleaned["floor"])
        if cleaned.get("q"):
            rooms = rooms.filter(
                Q(number__icontains=cleaned["q"]) | Q(customer__name__icontains=cleaned["q"])
            )
        all_tiles = build_tiles(rooms)
        counts = state_counts(all_tiles)
        state = cleaned.get("state") or ""
        tiles = with_state(all_tiles, state) if state else all_tiles
        query = {k: v for k, v in cleaned.items() if v not in (None, "")}
        chip_query = {k: v for k, v in query.items() if k != "state"}
        return {
            "filters": filters,
            "groups": grouped(tiles),
            "all_count": len(all_tiles),
            "state": state,
            "chips": [
                {
                    "state": value,
                    "label": label,
                    "count": counts[value],
                    "active": value == state,
                    "query": _query({**chip_query, "state": value}),
                }
                for value, label in TileState.choices
            ],
            "all_query": _query(chip_query),
            "query": _query(query),
            "refresh_seconds": REFRESH_SECONDS,
        }

    def board_view(self, request) -> HttpResponse:
        context = {
            **self.site.each_context(request),
            "title": _("Room monitoring"),
            **self.board_context(request),
        }
        return TemplateResponse(request, "console/board.html", context)

    def tiles_view(self, request) -> HttpResponse:
        """The part of the board that refreshes: counts and tiles."""
        return TemplateResponse(request, "console/board_tiles.html", self.board_context(request))

    # -- room ------------------------------------------------------------------------------------
    def scoped_room(self, request, room_id: int) -> Room:
        queryset = Room.objects.select_related("floor__building", "customer", "organisation")
        return console_scope(request).get(queryset, pk=room_id)

    def room_meter(self, room: Room, meter_id: int) -> Meter:
        meter = (
            Meter.objects.select_related("organisation", "customer", "gateway")
            .filter(pk=meter_id, room=room)
            .first()
        )
        if meter is None:
            raise Http404
        return meter

    def require(self, request, permission: str, room: Room) -> None:
        if not console_scope(request).can(permission, room.organisation_id):
            raise PermissionDenied

    def room_view(self, request, room_id: int) -> HttpResponse:
        room = self.scoped_room(request, room_id)
        scope = console_scope(request)
        customer = room.customer
        can_control = scope.can(CONTROL_OPERATE, room.organisation_id)
        can_top_up = scope.can(MONEY_OPERATE, room.organisation_id)
        wallet = ledger.wallet_of(customer) if customer else None
        policy = PrepaidPolicy.objects.filter(customer=customer).first() if customer else None
        meters = list(
            Meter.objects.filter(room=room)
            .select_related("supply", "customer")
            .order_by("state", "kind", "address")
        )
        tile = build_tiles(Room.objects.filter(pk=room.pk))[0]
        buttons = []
        if customer is not None and can_top_up:
            buttons.append(
                {
                    "name": "topup",
                    "url": reverse("admin:ledger_topup", args=[customer.pk]),
                    "icon": "add_card",
                    "label": _("Top up"),
                }
            )
        if customer is not None and can_control:
            protected = bool(policy and policy.protected)
            buttons.append(
                {
                    "name": "unprotect" if protected else "protect",
                    "url": reverse("admin:console_room_protect", args=[room.pk]),
                    "icon": "shield" if not protected else "remove_moderator",
                    "label": _("End protection") if protected else _("Protect (保电)"),
                }
            )
        commands = (
            Command.objects.filter(meter__room=room)
            .select_related("meter", "requested_by")
            .order_by("-created_at", "-id")[:RECENT_COMMANDS]
        )
        context = {
            **self.site.each_context(request),
            "title": _("Room %(room)s") % {"room": room},
            "room": room,
            "customer": customer,
            "wallet": wallet,
            "policy": policy,
            "tile": tile,
            "buttons": buttons,
            "meters": [self.meter_row(meter, room, can_control) for meter in meters],
            "commands": commands,
            "time_zone": room.organisation.time_zone,
            "statement_url": (
                reverse("admin:ledger_statement", args=[customer.pk]) if customer else ""
            ),
            "board_url": reverse("admin:console_board"),
        }
        return TemplateResponse(request, "console/room.html", context)

    def meter_row(self, meter: Meter, room: Room, can_control: bool) -> dict:
        supply = getattr(meter, "supply", None)
        phase = supply.phase if supply else SupplyPhase.ON
        values = meter.latest_values()
        latest = [
            (Reading._meta.get_field(name).verbose_name, values[name])
            for name in (*CUMULATIVE_FIELDS, *INSTANTANEOUS_FIELDS)
            if name in values
        ]
        held = bool(supply and supply.manual_hold)
        active = meter.state == "active"
        return {
            "meter": meter,
            "supply": supply,
            "phase_label": SupplyPhase(phase).label,
            "supply_off": phase in {SupplyPhase.DISCONNECT_SENT, SupplyPhase.DISCONNECTED} or held,
            "held": held,
            "latest": latest,
            "url": reverse("admin:metering_meter_change", args=[meter.pk]),
            "cut_url": (
                reverse("admin:console_room_cut", args=[room.pk, meter.pk])
                if can_control and active and not held and phase not in RESTORABLE_PHASES
                else ""
            ),
            "restore_url": (
                reverse("admin:console_room_restore", args=[room.pk, meter.pk])
                if can_control and active and (held or phase in RESTORABLE_PHASES)
                else ""
            ),
        }

    # -- dialogs ---------------------------------------------------------------------------------
    def cut_view(self, request, room_id: int, meter_id: int) -> HttpResponse:
        room = self.scoped_room(request, room_id)
        self.require(request, CONTROL_OPERATE, room)
        meter = self.room_meter(room, meter_id)
        form = None
        refusal = ""
        if request.method == "POST":
            form = CutForm(request.POST)
        else:
            try:
                form = CutForm(initial={"token": control.arm_cutoff(request.user, meter)})
            except ServiceError as error:
                refusal = error.message

        def perform(data):
            command = control.confirm_cutoff(request.user, data["token"], reason=data["reason"])
            return _("Cut-off sent to meter %(meter)s (command %(command)s).") % {
                "meter": meter.address,
                "command": command.command_id,
            }

        def on_error(error: ServiceError) -> None:
            if error.code in TOKEN_ERRORS:
                data = request.POST.copy()
                data["token"] = control.arm_cutoff(request.user, meter)
                dialog.form = CutForm(data)
                dialog.form.is_valid()
                show_service_error(dialog.form, error)

        dialog = RoomDialog(
            name="cut",
            title=_("Cut off supply"),
            sentence=_(
                "Cut off the supply of meter %(meter)s in room %(room)s (%(customer)s)? It stays "
                "off until an operator restores it."
            )
            % {"meter": meter.address, "room": room, "customer": _customer_name(room)},
            form=form,
            perform=perform,
            confirm_label=_("Confirm the cut-off"),
            danger=True,
            refusal=refusal,
            on_error=on_error,
        )
        return self.run_dialog(request, room, dialog)

    def restore_view(self, request, room_id: int, meter_id: int) -> HttpResponse:
        room = self.scoped_room(request, room_id)
        self.require(request, CONTROL_OPERATE, room)
        meter = self.room_meter(room, meter_id)

        def perform(data):
            supply_policy.restore(request.user, meter, reason=data["reason"])
            return _("Supply of meter %(meter)s will be restored.") % {"meter": meter.address}

        dialog = RoomDialog(
            name="restore",
            title=_("Restore supply"),
            sentence=_(
                "Restore the supply of meter %(meter)s in room %(room)s (%(customer)s)? It comes "
                "back if the balance allows."
            )
            % {"meter": meter.address, "room": room, "customer": _customer_name(room)},
            form=RestoreForm(request.POST if request.method == "POST" else None),
            perform=perform,
            confirm_label=_("Confirm the restore"),
        )
        return self.run_dialog(request, room, dialog)

    def protect_view(self, request, room_id: int) -> HttpResponse:
        room = self.scoped_room(request, room_id)
        self.require(request, CONTROL_OPERATE, room)
        customer = room.customer
        if customer is None:
            raise Http404
        if request.method == "POST":
            form = ProtectForm(request.POST)
            protect = request.POST.get("protect") == "1"
        else:
            policy = PrepaidPolicy.objects.filter(customer=customer).first()
            protect = not (policy and policy.protected)
            form = ProtectForm(initial={"protect": "1" if protect else "0"})
        form.fields["reason"].required = protect

        def perform(data):
            supply_policy.set_protected(
                request.user, customer, data["protect"], reason=data["reason"]
            )
            if data["protect"]:
                return _("%(customer)s is protected (保电).") % {"customer": customer.name}
            return _("The protection of %(customer)s has ended.") % {"customer": customer.name}

        if protect:
            title = _("Protect (保电)")
            sentence = _(
                "Protect %(customer)s (保电)? Their meters are then never cut off, whatever the "
                "balance."
            ) % {"customer": customer.name}
            confirm = _("Confirm the protection")
        else:
            title = _("End protection")
            sentence = _(
                "End the protection of %(customer)s? Supply is then cut again when the balance "
                "runs out."
            ) % {"customer": customer.name}
            confirm = _("Confirm the end of protection")
        dialog = RoomDialog(
            name="protect" if protect else "unprotect",
            title=title,
            sentence=sentence,
            form=form,
            perform=perform,
            confirm_label=confirm,
        )
        return self.run_dialog(request, room, dialog)

    def run_dialog(self, request, room: Room, dialog: RoomDialog) -> HttpResponse:
        """Confirm → service call → back to the room; a refusal stays on the dialog."""
        if request.method == "POST" and dialog.form is not None and dialog.form.is_valid():
            try:
                message = dialog.perform(dialog.form.cleaned_data)
            except ServiceError as error:
                if error.code == "token_used":
                    messages.warning(request, error.message)
                    return redirect("admin:console_room", room.pk)
                show_service_error(dialog.form, error)
                if dialog.on_error is not None:
                    dialog.on_error(error)
            else:
                messages.success(request, message)
                return redirect("admin:console_room", room.pk)
        customer = room.customer
        wallet = ledger.wallet_of(customer) if customer else None
        context = {
            **self.site.each_context(request),
            "title": dialog.title,
            "dialog": dialog,
            "form": dialog.form,
            "room": room,
            "customer": customer,
            "wallet": wallet,
            "room_url": reverse("admin:console_room", args=[room.pk]),
        }
        return TemplateResponse(request, "console/room_dialog.html", context)


def _customer_name(room: Room) -> str:
    return room.customer.name if room.customer else str(_("vacant"))


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _query(values: dict) -> str:
    query = QueryDict(mutable=True)
    for key, value in values.items():
        query[key] = str(value)
    return query.urlencode()
