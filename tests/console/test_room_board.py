"""The room monitoring board and a room's page: tile states, filters, counts, scoping, the
control dialogs against the real services, and a bounded number of queries."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from submeter.control.models import Command, CommandAction, PrepaidPolicy, SupplyState
from submeter.ledger import services as ledger
from submeter.ledger.models import Account, Transaction
from submeter.tenancy.models import AuditEntry
from submeter.tenancy.roles import Role
from tests.factories import (
    make_building,
    make_customer,
    make_floor,
    make_gateway,
    make_meter,
    make_organisation,
    make_prepaid_policy,
    make_room,
    make_supply_state,
    make_user,
)

pytestmark = pytest.mark.django_db

BOARD = "/console/board/"
TILES = "/console/board/tiles/"


@pytest.fixture
def client(admin_user):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(admin_user)
    return client


@pytest.fixture
def floor(org):
    return make_floor(make_building(org, name="A栋"), level=1)


def client_of(org, role) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(make_user(org, role=role))
    return client


def occupied_room(floor, *, online=True, phase=None, number=None, **policy):
    """A room with a tenant and one electricity meter behind a gateway."""
    org_id = floor.organisation_id
    customer = make_customer(floor.organisation, name=f"Tenant {number or ''}".strip())
    room = make_room(floor, customer=customer, **({"number": number} if number else {}))
    meter = make_meter(
        floor.organisation,
        room=room,
        customer=customer,
        gateway=make_gateway(floor.organisation, online_state="online"),
        online_state="online" if online else "offline",
    )
    if policy:
        make_prepaid_policy(customer, **policy)
    if phase:
        make_supply_state(meter, phase)
    assert room.organisation_id == org_id
    return room


def meter_of(room):
    return room.meters.get()


def room_url(room, action: str = "") -> str:
    return f"/console/board/room/{room.pk}/{action}"


def meter_url(room, action: str) -> str:
    return f"/console/board/room/{room.pk}/meter/{meter_of(room).pk}/{action}/"


def tile_states(response) -> dict[int, str]:
    html = response.content.decode()
    return {
        int(room): state
        for room, state in re.findall(
            r'class="board-tile" data-room="(\d+)" data-state="(\w+)"', html
        )
    }


def tile_html(response, room) -> str:
    html = response.content.decode()
    start = html.index(f'data-room="{room.pk}"')
    return html[start : html.index("</a>", start)]


def counts(response) -> dict[str, int]:
    return {chip["state"]: chip["count"] for chip in response.context["chips"]}


def top_up(room, amount: str) -> None:
    ledger.topup(None, room.customer, amount, "cash", fee_percent=Decimal("0"))


# -- tiles -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "state"),
    [
        ({}, "normal"),
        ({"alarm_level": 1}, "low"),
        ({"alarm_level": 3, "in_arrears": True}, "arrears"),
        ({"online": False}, "offline"),
        ({"phase": "disconnected", "in_arrears": True}, "cut"),
        ({"phase": "disconnect_sent"}, "cut"),
    ],
)
def test_tile_colour_follows_the_room_state(client, floor, setup, state):
    room = occupied_room(floor, **setup)

    response = client.get(BOARD)

    assert response.status_code == 200
    assert tile_states(response) == {room.pk: state}


def test_room_without_tenant_is_a_vacant_tile(client, floor):
    room = make_room(floor)

    assert tile_states(client.get(BOARD)) == {room.pk: "vacant"}


def test_room_without_policy_or_supply_rows_is_normal(client, floor):
    room = occupied_room(floor)

    assert not PrepaidPolicy.objects.exists() and not SupplyState.objects.exists()
    assert tile_states(client.get(BOARD)) == {room.pk: "normal"}


def test_protected_room_carries_the_protection_badge(client, floor):
    protected = occupied_room(floor, protected=True)
    plain = occupied_room(floor)

    response = client.get(BOARD)

    assert 'data-mark="protected"' in tile_html(response, protected)
    assert 'data-mark="protected"' not in tile_html(response, plain)


def test_manual_hold_shows_the_cut_mark_on_an_offline_tile(client, floor):
    room = occupied_room(floor, online=False)
    make_supply_state(meter_of(room), "on", manual_hold=True)

    response = client.get(BOARD)

    assert tile_states(response) == {room.pk: "offline"}
    assert 'data-mark="cut"' in tile_html(response, room)
    assert 'data-mark="offline"' in tile_html(response, room)


def test_tile_shows_room_tenant_and_balance_in_yuan_with_two_decimals(client, floor):
    room = occupied_room(floor, number="101")
    top_up(room, "12.5")

    tile = tile_html(client.get(BOARD), room)

    assert ">101<" in tile
    assert room.customer.name in tile
    assert "¥12.50" in tile


def test_tiles_are_grouped_by_building_and_floor(client, org, floor):
    upstairs = make_floor(floor.building, level=2, name="二层")
    other = make_floor(make_building(org, name="B栋"), level=1)
    rooms = [make_room(floor), make_room(upstairs), make_room(other)]

    groups = client.get(BOARD).context["groups"]

    assert [(g.name, [f.name for f in g.floors]) for g in groups] == [
        ("A栋", ["Floor 1", "二层"]),
        ("B栋", ["Floor 1"]),
    ]
    assert [t.room for g in groups for f in g.floors for t in f.tiles] == rooms


def test_counts_per_state_cover_every_room_of_the_filter(client, floor):
    occupied_room(floor)
    occupied_room(floor)
    occupied_room(floor, alarm_level=2)
    occupied_room(floor, in_arrears=True, phase="disconnected", protected=True)
    make_room(floor)

    found = counts(client.get(BOARD))

    assert found == {
        "normal": 2,
        "low": 1,
        "arrears": 1,
        "cut": 1,
        "pending": 0,
        "offline": 0,
        "protected": 1,
        "vacant": 1,
    }


def test_filter_by_building_shows_only_its_rooms(client, org, floor):
    mine = occupied_room(floor)
    elsewhere = make_floor(make_building(org, name="B栋"), level=1)
    occupied_room(elsewhere)

    response = client.get(BOARD, {"building": floor.building_id})

    assert tile_states(response) == {mine.pk: "normal"}
    assert response.context["all_count"] == 1


def test_filter_by_floor_shows_only_its_rooms(client, floor):
    upstairs = make_floor(floor.building, level=2)
    occupied_room(floor)
    mine = occupied_room(upstairs)

    response = client.get(BOARD, {"building": floor.building_id, "floor": upstairs.pk})

    assert tile_states(response) == {mine.pk: "normal"}


def test_floor_of_another_building_is_ignored_by_the_filter(client, org, floor):
    other = make_floor(make_building(org, name="B栋"), level=1)
    mine = occupied_room(floor)

    response = client.get(BOARD, {"building": floor.building_id, "floor": other.pk})

    assert tile_states(response) == {mine.pk: "normal"}


def test_filter_by_state_keeps_the_counts_of_all_states(client, floor):
    low = occupied_room(floor, alarm_level=1)
    occupied_room(floor)

    response = client.get(BOARD, {"state": "low"})

    assert tile_states(response) == {low.pk: "low"}
    assert counts(response)["normal"] == 1


def test_filter_by_cut_state_includes_offline_rooms_that_are_cut(client, floor):
    room = occupied_room(floor, online=False, phase="disconnected")
    occupied_room(floor)

    assert tile_states(client.get(BOARD, {"state": "cut"})) == {room.pk: "offline"}


def test_search_finds_a_room_by_tenant_name(client, floor):
    room = occupied_room(floor, number="301")
    occupied_room(floor, number="302")

    assert set(tile_states(client.get(BOARD, {"q": "Tenant 301"}))) == {room.pk}


def test_board_shows_only_the_rooms_of_the_current_organisation(client, floor, other_org):
    mine = occupied_room(floor)
    occupied_room(make_floor(make_building(other_org)))

    assert set(tile_states(client.get(BOARD))) == {mine.pk}


def test_tiles_partial_has_the_tiles_and_refreshes_itself_with_the_filters(client, floor):
    room = occupied_room(floor, alarm_level=1)

    response = client.get(TILES, {"building": floor.building_id})

    html = response.content.decode()
    assert tile_states(response) == {room.pk: "low"}
    assert "data-board-filters" not in html
    assert f'hx-get="/console/board/tiles/?building={floor.building_id}"' in html
    assert "hx-trigger=\"every 10s [document.visibilityState === 'visible']\"" in html


def test_board_queries_do_not_grow_with_the_number_of_rooms(client, floor):
    def queries_for_board() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(BOARD).status_code == 200
        return len(captured)

    occupied_room(floor, alarm_level=1)
    few = queries_for_board()
    for n in range(30):
        occupied_room(floor, online=n % 3 != 0, phase="disconnected" if n % 5 == 0 else None)
    many = queries_for_board()

    assert many == few


def test_tiles_refresh_runs_one_query_per_model(client, floor, django_assert_max_num_queries):
    for _n in range(40):
        occupied_room(floor, alarm_level=1, phase="on")

    # session, user, scope (4), buildings, floors, rooms, meters with supply, wallets, policies
    with django_assert_max_num_queries(14):
        assert client.get(TILES).status_code == 200


def test_sidebar_links_to_the_board(client):
    html = client.get("/console/").content.decode()

    assert 'href="/console/board/"' in html


# -- room page -------------------------------------------------------------------------------------


def test_room_page_shows_balance_limit_alarm_forecast_and_meters(client, floor):
    at = timezone.now() + timezone.timedelta(hours=30)
    room = occupied_room(floor, alarm_level=2, forecast_zero_at=at)
    top_up(room, "20.00")
    ledger.set_overdraft_limit(None, room.customer, Decimal("5.00"))

    response = client.get(room_url(room))

    html = response.content.decode()
    assert response.status_code == 200
    assert "data-balance>¥20.00<" in html
    assert "data-overdraft-limit>¥5.00<" in html
    assert "data-alarm-level>2<" in html
    local = timezone.localtime(at, timezone.get_fixed_timezone(8 * 60))
    assert f"data-forecast>{local:%Y-%m-%d %H:%M}<" in html
    assert f'href="/console/metering/meter/{meter_of(room).pk}/change/"' in html


def test_room_page_lists_the_last_twenty_commands_newest_first(client, floor):
    from submeter.control import services as control

    room = occupied_room(floor)
    for n in range(22):
        control.send(None, meter_of(room), CommandAction.READ, reason=f"read {n}")

    commands = list(client.get(room_url(room)).context["commands"])

    assert len(commands) == 20
    assert commands[0].reason == "read 21"


def test_room_of_another_organisation_is_not_found(client, other_org):
    room = occupied_room(make_floor(make_building(other_org)))

    assert client.get(room_url(room)).status_code == 404
    assert client.get(room_url(room, "protect/")).status_code == 404
    assert client.get(meter_url(room, "cut")).status_code == 404


def test_meter_of_another_room_is_not_found(client, floor):
    room = occupied_room(floor)
    other = occupied_room(floor)

    url = f"/console/board/room/{room.pk}/meter/{meter_of(other).pk}/restore/"

    assert client.get(url).status_code == 404


def test_viewer_sees_no_buttons(org, floor):
    room = occupied_room(floor)

    html = client_of(org, Role.VIEWER).get(room_url(room)).content.decode()

    assert "data-tool=" in html  # the statement link stays
    assert not re.search(r'data-tool="(topup|protect|cut|restore)"', html)


def test_electrician_may_control_but_not_top_up(org, floor):
    room = occupied_room(floor)

    html = client_of(org, Role.ELECTRICIAN).get(room_url(room)).content.decode()

    assert 'data-tool="protect"' in html and 'data-tool="cut"' in html
    assert 'data-tool="topup"' not in html


def test_finance_may_top_up_but_not_control(org, floor):
    room = occupied_room(floor)

    html = client_of(org, Role.FINANCE).get(room_url(room)).content.decode()

    assert f'href="/console/ledger/account/customer/{room.customer_id}/top-up/"' in html
    assert not re.search(r'data-tool="(protect|cut|restore)"', html)


@pytest.mark.parametrize("action", ["protect/", "cut", "restore"])
def test_control_dialogs_without_the_permission_are_forbidden(org, floor, action):
    room = occupied_room(floor, phase="disconnected")
    finance = client_of(org, Role.FINANCE)
    url = room_url(room, action) if action.endswith("/") else meter_url(room, action)

    assert finance.get(url).status_code == 403
    assert finance.post(url, {"reason": "x", "protect": "1"}).status_code == 403
    assert not Command.objects.exists()


# -- dialogs ---------------------------------------------------------------------------------------


def test_protect_dialog_protects_the_customer_and_records_it(client, floor):
    room = occupied_room(floor)

    dialog = client.get(room_url(room, "protect/"))
    done = client.post(room_url(room, "protect/"), {"reason": "hospital", "protect": "1"})

    assert dialog.context["dialog"].name == "protect"
    assert done.status_code == 302 and done["Location"] == room_url(room)
    policy = PrepaidPolicy.objects.get(customer=room.customer)
    assert (policy.protected, policy.protected_reason) == (True, "hospital")
    assert AuditEntry.objects.filter(action="control.set_protected").count() == 1


def test_protect_without_a_reason_shows_the_error_and_changes_nothing(client, floor):
    room = occupied_room(floor)

    response = client.post(room_url(room, "protect/"), {"reason": "", "protect": "1"})

    assert response.status_code == 200
    assert response.context["form"].errors["reason"]
    assert not PrepaidPolicy.objects.filter(protected=True).exists()


def test_unprotect_dialog_ends_the_protection(client, floor):
    room = occupied_room(floor, protected=True, protected_reason="hospital")

    dialog = client.get(room_url(room, "protect/"))
    done = client.post(room_url(room, "protect/"), {"reason": "", "protect": "0"})

    assert dialog.context["dialog"].name == "unprotect"
    assert done.status_code == 302
    assert PrepaidPolicy.objects.get(customer=room.customer).protected is False


def test_restore_with_a_low_balance_shows_the_error_and_changes_nothing(client, floor):
    room = occupied_room(floor, in_arrears=True, phase="disconnected")
    before = SupplyState.objects.values().get(meter=meter_of(room))

    response = client.post(meter_url(room, "restore"), {"reason": "asked nicely"})

    assert response.status_code == 200
    assert "below the reconnect threshold" in response.content.decode()
    assert SupplyState.objects.values().get(meter=meter_of(room)) == before
    assert not AuditEntry.objects.filter(action="control.restore").exists()


def test_restore_lifts_the_manual_hold(client, floor):
    room = occupied_room(floor)
    top_up(room, "50.00")
    make_supply_state(meter_of(room), "disconnected", manual_hold=True)

    done = client.post(meter_url(room, "restore"), {"reason": "inspection done"})

    assert done.status_code == 302 and done["Location"] == room_url(room)
    assert SupplyState.objects.get(meter=meter_of(room)).manual_hold is False
    assert AuditEntry.objects.filter(action="control.restore").count() == 1


def test_cut_dialog_arms_on_opening_and_sends_the_trip_on_confirming(client, floor):
    room = occupied_room(floor)

    dialog = client.get(meter_url(room, "cut"))
    token = dialog.context["form"].initial["token"]
    done = client.post(meter_url(room, "cut"), {"token": token, "reason": "inspection"})

    assert AuditEntry.objects.filter(action="cutoff.arm").count() == 1
    assert done.status_code == 302 and done["Location"] == room_url(room)
    command = Command.objects.get()
    assert (command.action, command.reason, command.meter_id) == (
        CommandAction.TRIP,
        "inspection",
        meter_of(room).pk,
    )


def test_cut_confirmed_twice_sends_one_trip(client, floor):
    room = occupied_room(floor)
    token = client.get(meter_url(room, "cut")).context["form"].initial["token"]

    client.post(meter_url(room, "cut"), {"token": token, "reason": "inspection"})
    again = client.post(meter_url(room, "cut"), {"token": token, "reason": "inspection"})

    assert again.status_code == 302
    assert Command.objects.count() == 1


def test_cut_without_a_reason_shows_the_error_and_sends_nothing(client, floor):
    room = occupied_room(floor)
    token = client.get(meter_url(room, "cut")).context["form"].initial["token"]

    response = client.post(meter_url(room, "cut"), {"token": token, "reason": ""})

    assert response.status_code == 200
    assert response.context["form"].errors["reason"]
    assert not Command.objects.exists()


def test_cut_of_a_protected_customer_is_refused_when_the_dialog_opens(client, floor):
    room = occupied_room(floor, protected=True)

    response = client.get(meter_url(room, "cut"))

    assert response.status_code == 200
    assert "protected" in response.context["dialog"].refusal
    assert response.context["form"] is None
    assert not Command.objects.exists()


def test_counts_follow_the_policy_rows(client, floor):
    room = occupied_room(floor, in_arrears=True)

    assert counts(client.get(BOARD))["arrears"] == 1
    PrepaidPolicy.objects.filter(customer=room.customer).update(in_arrears=False)
    assert counts(client.get(BOARD))["arrears"] == 0


def test_top_up_button_opens_the_ledger_dialog(client, floor):
    room = occupied_room(floor)

    html = client.get(room_url(room)).content.decode()
    dialog = client.get(f"/console/ledger/account/customer/{room.customer_id}/top-up/")

    assert f'href="/console/ledger/account/customer/{room.customer_id}/top-up/"' in html
    assert dialog.status_code == 200
    assert not Transaction.objects.exists() and not Account.objects.exists()


def test_organisation_switcher_changes_the_board(org):
    child = make_organisation("Child park", parent=org)
    user = make_user(org)
    mine = occupied_room(make_floor(make_building(org)))
    theirs = occupied_room(make_floor(make_building(child)))
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)

    everything = set(tile_states(client.get(BOARD)))
    client.get(f"/console/switch-organisation/{child.pk}/")
    narrowed = set(tile_states(client.get(BOARD)))

    assert everything == {mine.pk, theirs.pk}
    assert narrowed == {theirs.pk}


def test_expired_cut_off_is_armed_again_and_sends_nothing(client, floor, admin_user):
    from django.core import signing

    from submeter.control.services import CUTOFF_TOKEN_SALT

    room = occupied_room(floor)
    meter = meter_of(room)
    expired = signing.dumps(
        {
            "user": admin_user.pk,
            "org": room.organisation_id,
            "meter": meter.pk,
            "nonce": "old",
            "exp": int(timezone.now().timestamp()) - 1,
        },
        salt=CUTOFF_TOKEN_SALT,
    )

    response = client.post(meter_url(room, "cut"), {"token": expired, "reason": "inspection"})

    assert response.status_code == 200
    assert "arm it again" in response.content.decode()
    assert response.context["form"].data["token"] != expired
    assert not Command.objects.exists()
