import pytest

from submeter.control.models import PrepaidPolicy
from tests.e2e.login import log_in
from tests.factories import (
    make_building,
    make_customer,
    make_floor,
    make_gateway,
    make_meter,
    make_prepaid_policy,
    make_room,
    make_user,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def rented_room(floor, number: str, tenant: str, **policy):
    customer = make_customer(floor.organisation, name=tenant)
    room = make_room(floor, number=number, customer=customer)
    make_meter(
        floor.organisation,
        room=room,
        customer=customer,
        gateway=make_gateway(floor.organisation, online_state="online"),
        online_state="online",
    )
    if policy:
        make_prepaid_policy(customer, **policy)
    return room


def test_filter_the_board_by_building_open_a_room_and_protect_it(live_server, page, org):
    make_user(org, username="operator", password="Sparkling-Meter-42")
    a_floor = make_floor(make_building(org, name="A栋"), level=1)
    b_floor = make_floor(make_building(org, name="B栋"), level=1)
    rented_room(a_floor, "101", "王氏商贸")
    room = rented_room(b_floor, "201", "李记餐饮", alarm_level=1)

    log_in(page, live_server.url, "operator")

    page.click("a[href='/console/board/']")
    page.wait_for_selector("[data-board]")
    assert page.locator(".board-tile").count() == 2

    page.select_option("[data-board-filters] select[name=building]", str(b_floor.building_id))
    page.wait_for_url("**/console/board/?building=*")
    tiles = page.locator(".board-tile")
    assert tiles.count() == 1
    assert tiles.first.get_attribute("data-state") == "low"

    tiles.first.click()
    page.wait_for_selector(f"[data-room='{room.pk}']")
    assert page.locator("[data-customer]").inner_text() == "李记餐饮"
    page.click("[data-tool=protect]")

    page.wait_for_selector("[data-dialog=protect]")
    assert "李记餐饮" in page.locator("[data-sentence]").inner_text()
    page.fill("input[name=reason]", "冷库不能断电")
    page.click("[data-dialog-form] button[type=submit]")

    page.wait_for_selector(f"[data-room='{room.pk}'] [data-mark=protected]")
    assert page.locator("[data-tool=unprotect]").count() == 1
    policy = PrepaidPolicy.objects.get(customer=room.customer)
    assert (policy.protected, policy.protected_reason) == (True, "冷库不能断电")
