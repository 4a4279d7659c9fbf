from decimal import Decimal

import pytest

from submeter.ledger.models import Transaction
from tests.e2e.login import log_in
from tests.factories import make_customer, make_room, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_top_up_through_the_dialog_and_see_the_receipt_and_the_statement(live_server, page, org):
    make_user(org, username="cashier", password="Sparkling-Meter-42")
    customer = make_customer(org, name="王氏商贸")
    room = make_room(organisation=org, number="101")
    room.customer = customer
    room.save()

    log_in(page, live_server.url, "cashier")

    page.goto(f"{live_server.url}/console/customers/customer/")
    page.get_by_role("link", name="王氏商贸").click()
    page.click(f"a[href$='/customers/customer/{customer.pk}/top-up/']")

    page.wait_for_selector("[data-dialog=topup]")
    page.fill("input[name=amount]", "100")
    page.select_option("select[name=channel]", "wechat")
    page.click("[data-dialog-form] button[type=submit]")
    sentence = page.locator("[data-sentence]").inner_text()
    assert "¥100.00" in sentence and "王氏商贸" in sentence
    assert not Transaction.objects.exists()
    page.click("[data-confirm-form] button[type=submit]")

    page.wait_for_selector("[data-receipt]")
    assert page.locator("[data-amount]").inner_text() == "¥100.00"
    assert page.locator("[data-balance-after]").inner_text() == "¥100.00"
    assert page.locator("[data-customer]").inner_text() == "王氏商贸"
    assert page.locator("[data-print]").count() == 1

    page.click(f"a[href$='/ledger/account/customer/{customer.pk}/statement/']")
    page.wait_for_selector("[data-statement]")
    assert page.locator("[data-balance]").inner_text() == "¥100.00"
    assert page.locator("[data-statement-rows] [data-balance-after]").all_inner_texts() == [
        "100.00"
    ]
    posted = Transaction.objects.get()
    assert (posted.amount, posted.channel) == (Decimal("100.00"), "wechat")
