from decimal import Decimal

import pytest

from submeter.ledger import services
from submeter.ledger.models import Transaction
from submeter.tenancy.roles import Role
from tests.factories import api_client, make_customer, make_user

pytestmark = pytest.mark.usefixtures("audited")


@pytest.fixture
def client(admin_user):
    return api_client(admin_user)


def test_topup_through_the_api_with_idempotency_key(client, customer):
    url = f"/api/v1/customers/{customer.pk}/topups/"
    body = {"amount": "100.00", "channel": "wechat", "reason": "counter"}

    first = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == 201
    assert first.json() == again.json()
    assert first.status_code == again.status_code
    assert first.json()["balance_after"] == "100.00"
    assert Transaction.objects.count() == 1


def test_same_key_with_another_amount_is_409_and_no_credit(client, customer):
    url = f"/api/v1/customers/{customer.pk}/topups/"
    client.post(
        url, {"amount": "100.00", "channel": "wechat"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )

    answer = client.post(
        url, {"amount": "200.00", "channel": "wechat"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )

    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "idempotency_key_reused"
    assert client.get(f"/api/v1/customers/{customer.pk}/account/").json()["balance"] == "100.00"


@pytest.mark.parametrize("amount", ["0", "-1", "10.001", "ten", "", "1e30"])
def test_bad_amount_is_400_naming_the_field(client, customer, amount):
    answer = client.post(
        f"/api/v1/customers/{customer.pk}/topups/",
        {"amount": amount, "channel": "cash"},
        format="json",
    )

    assert answer.status_code == 400
    assert "amount" in answer.json()["error"]["fields"]
    assert not Transaction.objects.exists()


def test_amount_as_a_json_number_is_refused(client, customer):
    answer = client.post(
        f"/api/v1/customers/{customer.pk}/topups/",
        {"amount": 10.5, "channel": "cash"},
        format="json",
    )

    assert answer.status_code == 400


def test_refund_above_balance_is_409(client, customer):
    client.post(
        f"/api/v1/customers/{customer.pk}/topups/",
        {"amount": "20", "channel": "cash"},
        format="json",
    )

    answer = client.post(
        f"/api/v1/customers/{customer.pk}/refunds/",
        {"amount": "20.01", "channel": "cash"},
        format="json",
    )

    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "insufficient_balance"


def test_reverse_once_through_the_api(client, customer, admin_user):
    topup = services.topup(admin_user, customer, "50", "cash")

    first = client.post(
        f"/api/v1/transactions/{topup.pk}/reverse/", {"reason": "wrong room"}, format="json"
    )
    second = client.post(
        f"/api/v1/transactions/{topup.pk}/reverse/", {"reason": "again"}, format="json"
    )

    assert first.status_code == 201
    assert first.json()["reverses"] == topup.pk
    assert second.status_code == 409


def test_statement_has_running_balance_and_date_filter(client, customer, admin_user):
    services.topup(admin_user, customer, "100", "cash")
    services.charge(None, customer, "12.50", "electricity", idempotency_key="m:1")

    rows = client.get(f"/api/v1/customers/{customer.pk}/statement/").json()["results"]

    assert [(r["kind"], r["amount"], r["balance_after"]) for r in rows] == [
        ("charge", "-12.50", "87.50"),
        ("topup", "100.00", "100.00"),
    ]
    bad = client.get(f"/api/v1/customers/{customer.pk}/statement/?from=22/11/2026")
    assert bad.status_code == 400
    assert "from" in bad.json()["error"]["fields"]


def test_another_organisations_customer_is_404_for_money(client, other_org):
    theirs = make_customer(other_org)

    answer = client.post(
        f"/api/v1/customers/{theirs.pk}/topups/", {"amount": "10", "channel": "cash"}, format="json"
    )

    assert answer.status_code == 404
    assert not Transaction.objects.exists()


def test_viewer_may_read_the_statement_but_not_top_up(org, customer):
    client = api_client(make_user(org, Role.VIEWER))

    assert client.get(f"/api/v1/customers/{customer.pk}/statement/").status_code == 200
    answer = client.post(
        f"/api/v1/customers/{customer.pk}/topups/",
        {"amount": "10", "channel": "cash"},
        format="json",
    )
    assert answer.status_code == 403


def test_overdraft_limit_that_is_not_a_number_is_400(client, customer):
    answer = client.patch(
        f"/api/v1/customers/{customer.pk}/account/", {"overdraft_limit": "abc"}, format="json"
    )

    assert answer.status_code == 400
    assert "overdraft_limit" in answer.json()["error"]["fields"]


def test_overdraft_limit_and_close_account(client, customer, admin_user):
    services.topup(admin_user, customer, "30", "cash")

    limit = client.patch(
        f"/api/v1/customers/{customer.pk}/account/", {"overdraft_limit": "50"}, format="json"
    )
    closed = client.post(
        f"/api/v1/customers/{customer.pk}/account/close/", {"channel": "cash"}, format="json"
    )

    assert limit.json()["overdraft_limit"] == "50.00"
    assert closed.json()["state"] == "closed"
    assert closed.json()["balance"] == "0.00"


def test_ledger_audit_endpoint_for_administrators(client, org, customer, admin_user):
    services.topup(admin_user, customer, "30", "cash")

    answer = client.get("/api/v1/ledger/audit/")

    assert answer.status_code == 200
    assert answer.json()["ok"] is True
    assert api_client(make_user(org, Role.VIEWER)).get("/api/v1/ledger/audit/").status_code == 403


def test_balance_is_exact_after_many_small_topups(client, customer):
    for _n in range(30):
        client.post(
            f"/api/v1/customers/{customer.pk}/topups/",
            {"amount": "0.10", "channel": "cash"},
            format="json",
        )

    assert client.get(f"/api/v1/customers/{customer.pk}/account/").json()["balance"] == str(
        Decimal("3.00")
    )
