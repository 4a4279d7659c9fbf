import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook

from submeter.ledger import services
from submeter.ledger.choices import AccountKind, AccountState
from submeter.ledger.integrity import audit_ledger
from submeter.ledger.models import Account, Transaction
from submeter.tenancy.models import AuditEntry
from submeter.tenancy.roles import Role
from tests.factories import make_customer, make_room, make_user


@pytest.fixture(autouse=True)
def audited(db):
    """Every money test ends with the ledger audit."""
    yield
    report = audit_ledger()
    assert report.ok, report.as_dict()


@pytest.fixture
def customer(org):
    customer = make_customer(org, name="王氏商贸")
    room = make_room(organisation=org, number="101")
    room.customer = customer
    room.save()
    return customer


@pytest.fixture
def client(admin_user):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(admin_user)
    return client


def balance(customer) -> Decimal:
    return Account.objects.get(customer=customer, kind=AccountKind.WALLET).balance


def url(customer, dialog: str) -> str:
    return f"/console/ledger/account/customer/{customer.pk}/{dialog}/"


def first_form_key(client, customer, dialog) -> str:
    page = client.get(url(customer, dialog))
    assert page.status_code == 200
    return page.context["form"].initial["idempotency_key"]


def test_topup_form_review_and_confirm_posts_once_even_when_confirmed_twice(client, customer, org):
    org.topup_fee_percent = Decimal("0.6")
    org.save()
    key = first_form_key(client, customer, "top-up")
    data = {"amount": "100.00", "channel": "wechat", "reason": "counter", "idempotency_key": key}

    review = client.post(url(customer, "top-up"), data)

    assert review.status_code == 200
    assert review.context["sentence"] == (
        "Top up ¥100.00 by WeChat Pay for 王氏商贸; service fee ¥0.60; new balance ¥99.40."
    )
    assert not Transaction.objects.exists()

    first = client.post(url(customer, "top-up"), {**data, "confirm": "1"})
    second = client.post(url(customer, "top-up"), {**data, "confirm": "1"})

    posted = Transaction.objects.get()
    receipt = f"/console/ledger/transaction/{posted.pk}/receipt/"
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == receipt
    assert posted.idempotency_key == key
    assert balance(customer) == Decimal("99.40")


def test_each_showing_of_the_form_gets_a_new_key(client, customer):
    assert first_form_key(client, customer, "top-up") != first_form_key(client, customer, "top-up")


def test_change_goes_back_to_the_filled_form_without_posting(client, customer):
    key = first_form_key(client, customer, "top-up")
    data = {"amount": "20", "channel": "cash", "reason": "", "idempotency_key": key}

    page = client.post(url(customer, "top-up"), {**data, "edit": "1"})

    assert page.context["sentence"] == ""
    assert page.context["form"]["amount"].value() == "20"
    assert not Transaction.objects.exists()


def test_a_used_key_with_another_amount_is_refused(client, customer):
    key = first_form_key(client, customer, "top-up")
    data = {"amount": "20", "channel": "cash", "reason": "", "idempotency_key": key}
    client.post(url(customer, "top-up"), {**data, "confirm": "1"})

    page = client.post(url(customer, "top-up"), {**data, "amount": "30", "confirm": "1"})

    assert page.status_code == 200
    assert page.context["form"].non_field_errors() == [
        "This idempotency key was already used for a different request."
    ]
    assert Transaction.objects.count() == 1


def test_bad_amount_is_shown_under_its_field(client, customer):
    key = first_form_key(client, customer, "top-up")

    page = client.post(
        url(customer, "top-up"),
        {"amount": "1.001", "channel": "cash", "idempotency_key": key, "confirm": "1"},
    )

    assert page.status_code == 200
    assert page.context["form"].errors["amount"]
    assert not Transaction.objects.exists()


def test_refund_above_the_balance_shows_the_error_and_posts_nothing(client, customer, admin_user):
    services.topup(admin_user, customer, "50.00", "cash")
    key = first_form_key(client, customer, "refund")
    data = {"amount": "80.00", "channel": "cash", "reason": "", "idempotency_key": key}

    review = client.post(url(customer, "refund"), data)
    confirmed = client.post(url(customer, "refund"), {**data, "confirm": "1"})

    message = "The refund is larger than the balance (¥50.00)."
    assert review.context["form"].errors["amount"] == [message]
    assert confirmed.context["form"].errors["amount"] == [message]
    assert message in confirmed.content.decode()
    assert Transaction.objects.count() == 1
    assert balance(customer) == Decimal("50.00")


def test_refund_within_the_balance_posts_and_shows_the_receipt(client, customer, admin_user):
    services.topup(admin_user, customer, "50.00", "cash")
    key = first_form_key(client, customer, "refund")
    data = {"amount": "30.00", "channel": "cash", "reason": "moving out", "idempotency_key": key}

    review = client.post(url(customer, "refund"), data)
    answer = client.post(url(customer, "refund"), {**data, "confirm": "1"}, follow=True)

    assert review.context["sentence"] == ("Refund ¥30.00 by Cash to 王氏商贸; new balance ¥20.00.")
    assert answer.context["transaction"].kind == "refund"
    assert balance(customer) == Decimal("20.00")


def test_reversal_dialog_shows_the_original_and_reverses_once(client, customer, admin_user):
    original = services.topup(admin_user, customer, "100.00", "cash")
    reverse_url = f"/console/ledger/transaction/{original.pk}/reverse/"

    form = client.get(reverse_url)
    review = client.post(reverse_url, {"reason": "wrong tenant"})
    first = client.post(reverse_url, {"reason": "wrong tenant", "confirm": "1"})
    second = client.post(reverse_url, {"reason": "wrong tenant", "confirm": "1"})

    assert form.context["dialog"].original == original
    assert f"#{original.pk}" in form.content.decode()
    assert review.context["sentence"] == (
        f"Reverse transaction #{original.pk} (Top-up of ¥100.00 for 王氏商贸); new balance ¥0.00."
    )
    reversal = Transaction.objects.get(reverses=original)
    assert first["Location"] == second["Location"]
    assert first["Location"] == f"/console/ledger/transaction/{reversal.pk}/receipt/"
    assert Transaction.objects.filter(kind="reversal").count() == 1
    assert balance(customer) == Decimal("0.00")
    assert "already been reversed" in client.get(reverse_url).content.decode()


def test_reversal_needs_a_reason(client, customer, admin_user):
    original = services.topup(admin_user, customer, "100.00", "cash")

    page = client.post(
        f"/console/ledger/transaction/{original.pk}/reverse/", {"reason": "", "confirm": "1"}
    )

    assert page.context["form"].errors["reason"]
    assert not Transaction.objects.filter(kind="reversal").exists()


def test_receipt_shows_the_organisation_tenant_rooms_and_amounts(client, customer, admin_user, org):
    org.topup_fee_percent = Decimal("0.6")
    org.save()
    customer.refresh_from_db()
    posted = services.topup(admin_user, customer, "100.00", "wechat")

    page = client.get(f"/console/ledger/transaction/{posted.pk}/receipt/")

    text = page.content.decode()
    local_time = timezone.localtime(posted.created_at, timezone.get_fixed_timezone(480))
    for expected in (
        "示范园区",
        "王氏商贸",
        "101",
        "¥100.00",
        "¥0.60",
        "¥99.40",
        "WeChat Pay",
        admin_user.username,
        local_time.strftime("%Y-%m-%d %H:%M:%S"),
        "window.print()",
    ):
        assert expected in text, expected


def test_overdraft_limit_dialog_sets_the_limit(client, customer):
    review = client.post(url(customer, "overdraft-limit"), {"overdraft_limit": "200"})
    answer = client.post(
        url(customer, "overdraft-limit"), {"overdraft_limit": "200", "confirm": "1"}
    )

    assert "from ¥0.00 to ¥200.00" in review.context["sentence"]
    assert answer["Location"] == url(customer, "statement")
    assert Account.objects.get(customer=customer).overdraft_limit == Decimal("200.00")


def test_overdraft_limit_dialog_records_the_reason(client, customer):
    client.post(
        url(customer, "overdraft-limit"),
        {"overdraft_limit": "200", "reason": "trusted tenant", "confirm": "1"},
    )

    logged = AuditEntry.objects.get(action="ledger.overdraft_limit")
    assert logged.after["reason"] == "trusted tenant"


def test_close_dialog_refunds_the_balance_and_closes(client, customer, admin_user):
    services.topup(admin_user, customer, "35.00", "cash")

    review = client.post(url(customer, "close"), {"channel": "transfer", "reason": ""})
    answer = client.post(url(customer, "close"), {"channel": "transfer", "confirm": "1"})
    again = client.post(url(customer, "close"), {"channel": "transfer", "confirm": "1"})

    assert "refund the balance of ¥35.00 by Bank transfer" in review.context["sentence"]
    settlement = Transaction.objects.get(kind="settlement")
    assert answer["Location"] == f"/console/ledger/transaction/{settlement.pk}/receipt/"
    assert again["Location"] == url(customer, "statement")
    wallet = Account.objects.get(customer=customer)
    assert (wallet.state, wallet.balance) == (AccountState.CLOSED, Decimal("0.00"))


def statement_rows(page):
    return [(line["kind"], line["amount"], line["balance_after"]) for line in page.context["lines"]]


def test_statement_shows_entries_newest_first_with_the_running_balance(
    client, customer, admin_user
):
    services.topup(admin_user, customer, "100.00", "cash")
    services.refund(admin_user, customer, "30.00", "cash")
    services.set_overdraft_limit(admin_user, customer, "50")

    page = client.get(url(customer, "statement"))

    assert statement_rows(page) == [
        ("Refund", Decimal("-30.00"), Decimal("70.00")),
        ("Top-up", Decimal("100.00"), Decimal("100.00")),
    ]
    text = page.content.decode()
    assert "¥70.00" in text and "¥50.00" in text
    assert url(customer, "top-up") in text


def test_statement_filters_by_kind_and_dates(client, customer, admin_user):
    services.topup(admin_user, customer, "100.00", "cash")
    services.refund(admin_user, customer, "30.00", "cash")
    today = timezone.localdate()
    yesterday = today - timedelta(days=1)

    refunds = client.get(url(customer, "statement"), {"kind": "refund"})
    from_today = client.get(url(customer, "statement"), {"from": today.isoformat()})
    to_yesterday = client.get(url(customer, "statement"), {"to": yesterday.isoformat()})
    bad_date = client.get(url(customer, "statement"), {"from": "yesterday"})

    assert statement_rows(refunds) == [("Refund", Decimal("-30.00"), Decimal("70.00"))]
    assert len(statement_rows(from_today)) == 2
    assert statement_rows(to_yesterday) == []
    assert bad_date.context["error"] == "Use the date format YYYY-MM-DD."


def test_statement_paginates(client, customer, admin_user):
    for _n in range(55):
        services.topup(admin_user, customer, "1.00", "cash")

    first = client.get(url(customer, "statement"))
    second = client.get(url(customer, "statement"), {"page": 2})

    assert len(first.context["lines"]) == 50
    assert len(second.context["lines"]) == 5
    assert second.context["lines"][-1]["balance_after"] == Decimal("1.00")


def test_statement_exports_the_filtered_rows(client, customer, admin_user):
    services.topup(admin_user, customer, "100.00", "cash")
    services.refund(admin_user, customer, "30.00", "cash")
    services.topup(admin_user, customer, "5.00", "alipay")

    answer = client.get(url(customer, "statement"), {"kind": "topup", "_export": "xlsx"})

    assert answer["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(answer.content)).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0] == [
        "time",
        "transaction",
        "kind",
        "channel",
        "utility",
        "reason",
        "operator",
        "amount",
        "balance after",
    ]
    assert [(row[2], row[3], row[7], row[8]) for row in rows[1:]] == [
        ("Top-up", "Alipay", 5, 75),
        ("Top-up", "Cash", 100, 100),
    ]


def test_another_organisations_customer_is_404_on_every_page(client, other_org, admin_user):
    theirs = make_customer(other_org, name="Theirs")
    their_topup = services.topup(make_user(other_org), theirs, "10.00", "cash")
    pages = [
        url(theirs, name) for name in ("statement", "top-up", "refund", "overdraft-limit", "close")
    ] + [
        f"/console/ledger/transaction/{their_topup.pk}/reverse/",
        f"/console/ledger/transaction/{their_topup.pk}/receipt/",
        f"/console/ledger/transaction/{their_topup.pk}/change/",
        f"/console/customers/customer/{theirs.pk}/statement/",
        f"/console/customers/customer/{theirs.pk}/top-up/",
    ]

    for page in pages:
        assert client.get(page).status_code == 404, page
        assert client.post(page, {"amount": "5", "confirm": "1"}).status_code == 404, page
    assert Transaction.objects.count() == 1


def test_viewer_is_refused_the_dialogs_but_reads_the_statement_and_receipt(
    org, customer, admin_user
):
    posted = services.topup(admin_user, customer, "10.00", "cash")
    viewer = Client(HTTP_ACCEPT_LANGUAGE="en")
    viewer.force_login(make_user(org, Role.VIEWER))
    dialogs = [url(customer, name) for name in ("top-up", "refund", "overdraft-limit", "close")]
    dialogs.append(f"/console/ledger/transaction/{posted.pk}/reverse/")

    for page in dialogs:
        assert viewer.get(page).status_code == 403, page
        assert viewer.post(page, {"amount": "5", "confirm": "1"}).status_code == 403, page
    statement = viewer.get(url(customer, "statement"))
    assert statement.status_code == 200
    assert statement.context["buttons"] == []
    assert viewer.get(f"/console/ledger/transaction/{posted.pk}/receipt/").status_code == 200
    assert Transaction.objects.count() == 1


def test_customer_pages_link_to_the_statement_and_the_top_up(client, customer):
    listing = client.get("/console/customers/customer/")
    change = client.get(f"/console/customers/customer/{customer.pk}/change/")

    for page in (listing, change):
        assert f"/console/customers/customer/{customer.pk}/statement/" in page.content.decode()
        assert f"/console/customers/customer/{customer.pk}/top-up/" in page.content.decode()
    to_statement = client.get(f"/console/customers/customer/{customer.pk}/statement/")
    assert to_statement["Location"] == url(customer, "statement")
    to_topup = client.get(f"/console/customers/customer/{customer.pk}/top-up/")
    assert to_topup["Location"] == url(customer, "top-up")


def test_transactions_list_is_scoped_filterable_and_exports(
    client, customer, admin_user, other_org
):
    services.topup(admin_user, customer, "100.00", "cash")
    services.refund(admin_user, customer, "30.00", "cash")
    theirs = make_customer(other_org, name="Theirs")
    services.topup(make_user(other_org), theirs, "10.00", "cash")

    listing = client.get("/console/ledger/transaction/")
    refunds = client.get("/console/ledger/transaction/", {"kind__exact": "refund"})
    searched = client.get("/console/ledger/transaction/", {"q": "王氏"})
    today = timezone.localdate().isoformat()
    dated = client.get("/console/ledger/transaction/", {"created_at_from": today})
    exported = client.get(
        "/console/ledger/transaction/", {"_export": "xlsx", "kind__exact": "topup"}
    )

    assert listing.context["cl"].result_count == 2
    assert refunds.context["cl"].result_count == 1
    assert searched.context["cl"].result_count == 2
    assert dated.context["cl"].result_count == 2
    sheet = load_workbook(io.BytesIO(exported.content)).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)]
    assert [(row[1], row[2], row[3]) for row in rows] == [("Top-up", "王氏商贸", 100)]


def test_transaction_detail_shows_the_entries_and_the_reverse_button(client, customer, admin_user):
    posted = services.topup(admin_user, customer, "100.00", "cash")

    page = client.get(f"/console/ledger/transaction/{posted.pk}/change/")

    text = page.content.decode()
    assert page.status_code == 200
    assert f"/console/ledger/transaction/{posted.pk}/reverse/" in text
    assert f"/console/ledger/transaction/{posted.pk}/receipt/" in text
    assert "Tenant wallet" in text and "-100.00" in text


def test_viewer_sees_no_reverse_button(org, customer, admin_user):
    posted = services.topup(admin_user, customer, "100.00", "cash")
    viewer = Client(HTTP_ACCEPT_LANGUAGE="en")
    viewer.force_login(make_user(org, Role.VIEWER))

    page = viewer.get(f"/console/ledger/transaction/{posted.pk}/change/")

    assert page.status_code == 200
    assert f"/console/ledger/transaction/{posted.pk}/reverse/" not in page.content.decode()


def test_wallets_list_shows_wallets_and_opens_the_statement(client, customer, admin_user):
    services.topup(admin_user, customer, "100.00", "cash")
    wallet = Account.objects.get(customer=customer)

    listing = client.get("/console/ledger/account/")
    opened = client.get(f"/console/ledger/account/{wallet.pk}/change/")
    exported = client.get("/console/ledger/account/", {"_export": "xlsx"})

    assert listing.context["cl"].result_count == 1
    assert opened["Location"] == url(customer, "statement")
    sheet = load_workbook(io.BytesIO(exported.content)).active
    assert [cell.value for cell in sheet[2]][:2] == ["王氏商贸", 100]
    assert client.get("/console/ledger/account/add/").status_code == 403
