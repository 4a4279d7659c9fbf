from decimal import Decimal

from tests.factories import api_client, make_customer, make_notification

URL = "/api/v1/notifications/"


def ids(answer):
    return sorted(row["id"] for row in answer.json()["results"])


def test_list_is_scoped_to_the_callers_organisations(org, other_org, admin_user):
    [mine] = make_notification(make_customer(org, notify_sms=False))
    make_notification(make_customer(other_org, notify_sms=False))

    answer = api_client(admin_user).get(URL)

    assert answer.status_code == 200
    assert ids(answer) == [mine.pk]


def test_list_filters_by_customer_kind_and_state(org, admin_user):
    one = make_customer(org, notify_sms=True)
    two = make_customer(org, notify_sms=False)
    [sms, one_in_app] = make_notification(one, "balance_low")
    [two_in_app] = make_notification(two, "cut_off", context={"balance": Decimal("-1")})
    client = api_client(admin_user)

    assert ids(client.get(URL, {"customer": two.pk})) == [two_in_app.pk]
    assert ids(client.get(URL, {"kind": "balance_low"})) == sorted([sms.pk, one_in_app.pk])
    assert ids(client.get(URL, {"state": "failed"})) == [sms.pk]


def test_detail_shows_the_delivery_record(org, admin_user):
    [sms, _in_app] = make_notification(make_customer(org, phone="13800138000"))

    row = api_client(admin_user).get(f"{URL}{sms.pk}/").json()

    assert row["channel"] == "sms"
    assert row["recipient"] == "13800138000"
    assert row["state"] == "failed"
    assert row["error"] == "not configured"
    assert row["context"] == {"level": 1, "balance": "20.00"}


def test_another_organisations_notification_is_404(other_org, admin_user):
    [theirs] = make_notification(make_customer(other_org, notify_sms=False))

    assert api_client(admin_user).get(f"{URL}{theirs.pk}/").status_code == 404


def test_notifications_cannot_be_written(org, admin_user):
    [in_app] = make_notification(make_customer(org, notify_sms=False))
    client = api_client(admin_user)

    assert client.post(URL, {}, format="json").status_code == 405
    assert client.patch(f"{URL}{in_app.pk}/", {"state": "sent"}, format="json").status_code == 405
    assert client.delete(f"{URL}{in_app.pk}/").status_code == 405
