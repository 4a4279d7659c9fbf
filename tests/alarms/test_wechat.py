from decimal import Decimal

from submeter.alarms.models import Notification, NotificationState
from submeter.alarms.services import deliver_pending, notify
from tests.factories import make_customer


def wechat_customer(org):
    return make_customer(org, notify_sms=False, notify_wechat=True, wechat_openid="o-openid-1")


def notify_low(customer, key):
    notify(customer, "balance_low", context={"level": 1, "balance": Decimal("48")}, dedupe_key=key)
    return Notification.objects.get(customer=customer, channel="wechat", dedupe_key=key)


def test_wechat_gets_a_token_then_posts_the_template_message_to_the_openid(org, wechat):
    notification = notify_low(wechat_customer(org), "k1")

    deliver_pending()

    token_request, send = wechat.http.received
    assert token_request.method == "GET"
    assert token_request.path == "/cgi-bin/token"
    assert token_request.query == {
        "grant_type": "client_credential",
        "appid": wechat.app_id,
        "secret": wechat.secret,
    }
    assert send.method == "POST"
    assert send.query == {"access_token": "TOKEN-1"}
    body = send.json()
    assert body["touser"] == "o-openid-1"
    assert body["template_id"] == "TPL-LOW"
    assert body["data"]["balance"] == {"value": "¥48.00"}
    assert body["data"]["level"] == {"value": "1"}
    assert body["data"]["first"] == {"value": notification.subject}
    assert body["data"]["remark"] == {"value": notification.body}


def test_wechat_message_is_recorded_sent_with_the_msgid(org, wechat):
    notification = notify_low(wechat_customer(org), "k1")

    deliver_pending()

    notification.refresh_from_db()
    assert notification.state == NotificationState.SENT
    assert notification.provider_message_id == "200228332"


def test_wechat_access_token_is_cached_between_messages(org, wechat):
    customer = wechat_customer(org)
    notify_low(customer, "k1")
    notify_low(customer, "k2")
    notify_low(customer, "k3")

    assert deliver_pending() == 3

    assert wechat.tokens_issued == 1
    assert [send.query["access_token"] for send in wechat.sends] == ["TOKEN-1"] * 3


def test_expired_wechat_token_is_fetched_again_and_the_message_sent(org, wechat):
    customer = wechat_customer(org)
    notify_low(customer, "k1")
    deliver_pending()
    wechat.expire_token()
    second = notify_low(customer, "k2")

    deliver_pending()

    second.refresh_from_db()
    assert second.state == NotificationState.SENT
    assert wechat.tokens_issued == 2
    assert [send.query["access_token"] for send in wechat.sends] == [
        "TOKEN-1",
        "TOKEN-1",
        "TOKEN-2",
    ]


def test_wrong_app_secret_fails_without_sending(org, wechat, settings):
    settings.WECHAT_APP_SECRET = "wrong"
    notification = notify_low(wechat_customer(org), "k1")

    deliver_pending()

    notification.refresh_from_db()
    assert notification.state == NotificationState.FAILED
    assert notification.error == "token: 40013 invalid appid"
    assert notification.retry is False
    assert wechat.sends == []


def test_wechat_refusal_is_recorded_with_its_code(org, wechat):
    wechat.send_answer = {"errcode": 43004, "errmsg": "require subscribe"}
    notification = notify_low(wechat_customer(org), "k1")

    deliver_pending()

    notification.refresh_from_db()
    assert notification.state == NotificationState.FAILED
    assert notification.error == "43004: require subscribe"
    assert notification.retry is False
