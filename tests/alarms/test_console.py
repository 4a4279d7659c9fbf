import io
from decimal import Decimal

import pytest
from django.test import Client
from openpyxl import load_workbook

from submeter.alarms.models import Notification
from submeter.tenancy.roles import Role
from tests.factories import make_customer, make_notification, make_user

LIST = "/console/alarms/notification/"


@pytest.fixture
def client(admin_user):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(admin_user)
    return client


def test_list_shows_the_organisations_notifications_only(client, org, other_org):
    make_notification(make_customer(org, name="Tenant of A", notify_sms=False))
    make_notification(make_customer(other_org, name="Tenant of B", notify_sms=False))

    page = client.get(LIST)

    assert page.status_code == 200
    assert b"Tenant of A" in page.content
    assert b"Tenant of B" not in page.content


def test_list_filters_by_kind_channel_state_customer_and_day(client, org):
    one = make_customer(org, notify_sms=True)
    two = make_customer(org, notify_sms=False)
    make_notification(one, "balance_low")
    make_notification(two, "cut_off", context={"balance": Decimal("-1")})

    def shown(query):
        page = client.get(f"{LIST}?{query}")
        assert page.status_code == 200
        return sorted((n.customer_id, n.kind, n.channel) for n in page.context["cl"].result_list)

    assert shown("kind__exact=cut_off") == [(two.pk, "cut_off", "in_app")]
    assert shown("channel__exact=sms") == [(one.pk, "balance_low", "sms")]
    assert shown("state__exact=failed") == [(one.pk, "balance_low", "sms")]
    assert shown(f"customer={two.pk}") == [(two.pk, "cut_off", "in_app")]
    assert shown("created_at_from=2000-01-01&created_at_to=2000-01-02") == []


def test_list_exports_to_excel_following_its_filters(client, org):
    customer = make_customer(org, notify_sms=True)
    make_notification(customer)

    export = client.get(f"{LIST}?channel__exact=sms&_export=xlsx")

    assert export.status_code == 200
    sheet = load_workbook(io.BytesIO(export.content)).active
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 1
    assert "SMS" in rows[0]


def test_detail_is_read_only(client, org):
    [in_app] = make_notification(make_customer(org, notify_sms=False))

    page = client.get(f"{LIST}{in_app.pk}/change/")
    posted = client.post(f"{LIST}{in_app.pk}/change/", {"subject": "changed"})

    assert page.status_code == 200
    assert posted.status_code == 403
    in_app.refresh_from_db()
    assert in_app.subject != "changed"


def test_another_organisations_notification_is_404(client, other_org):
    [in_app] = make_notification(make_customer(other_org, notify_sms=False))

    assert client.get(f"{LIST}{in_app.pk}/change/").status_code == 404
    assert client.get(f"{LIST}{in_app.pk}/resend/").status_code == 404


def test_resend_button_queues_a_copy(client, org):
    [sms, _in_app] = make_notification(make_customer(org, phone="13800000000"))

    answer = client.get(f"{LIST}{sms.pk}/resend/")

    copy = Notification.objects.get(resend_of=sms)
    assert answer.status_code == 302
    assert answer["Location"].endswith(f"/{copy.pk}/change/")


def test_resend_action_on_selected_notifications(client, org):
    [sms, in_app] = make_notification(make_customer(org, phone="13800000000"))

    answer = client.post(
        LIST, {"action": "resend_selected", "_selected_action": [sms.pk, in_app.pk]}
    )

    assert answer.status_code == 302
    assert Notification.objects.filter(resend_of=sms).count() == 1
    assert Notification.objects.filter(resend_of=in_app).count() == 0


def test_a_viewer_may_not_resend(org):
    [sms, _in_app] = make_notification(make_customer(org, phone="13800000000"))
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(make_user(org, role=Role.VIEWER))

    assert client.get(LIST).status_code == 200
    refused = client.get(f"{LIST}{sms.pk}/resend/")

    assert refused.status_code == 403
    assert Notification.objects.filter(resend_of=sms).count() == 0
